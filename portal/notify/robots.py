"""Group chat robots: 企业微信, 钉钉 and 飞书 custom-robot webhooks, signed as each vendor
documents (no vendor SDKs).

- 企业微信 (wecom): the webhook URL carries the robot's key (`…/webhook/send?key=…`); no
  signature. Body {"msgtype": "text", "text": {"content": …}}; answer {"errcode": 0}.
- 钉钉 (dingtalk), 加签: timestamp in milliseconds; sign = urlencode(base64(HMAC-SHA256 with
  the secret as key over "timestamp\\nsecret")), both added to the URL's query; answer
  {"errcode": 0}.
- 飞书 (feishu), 签名校验: timestamp in seconds; sign = base64(HMAC-SHA256 keyed by
  "timestamp\\nsecret" over an empty message), both in the JSON body beside
  {"msg_type": "text", "content": {"text": …}}; answer {"code": 0} (older robots:
  {"StatusCode": 0}).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse

from portal.notify.sms import SmsError, _post

# 企业微信 refuses text over 2048 bytes; the others allow more, one limit keeps it simple.
MAX_TEXT_BYTES = 2048


class RobotError(SmsError):
    """The robot's server refused the message or could not be reached; retried later."""


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """The `sign` query value: already urlencoded, as 钉钉's examples append it."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def feishu_sign(timestamp_s: int, secret: str) -> str:
    """The body's `sign`: the key is "timestamp\\nsecret", the message empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def robot_text(subject: str, body: str, link: str | None) -> str:
    text = f"{subject}\n{body}" + (f"\n{link}" if link else "")
    data = text.encode()
    if len(data) > MAX_TEXT_BYTES:
        text = data[:MAX_TEXT_BYTES - 3].decode("utf-8", "ignore") + "…"
    return text


def send_robot(vendor: str, url: str, secret: str | None, text: str, *, now: float | None = None) -> str:
    """POST one text message; returns the robot server's answer or raises RobotError.
    `now` (Unix seconds) is the vendor's clock, not the portal's: they refuse a timestamp an
    hour off."""
    now = time.time() if now is None else now
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if vendor == "wecom":
        payload = {"msgtype": "text", "text": {"content": text}}
    elif vendor == "dingtalk":
        payload = {"msgtype": "text", "text": {"content": text}}
        if secret:
            ts = int(now * 1000)
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={dingtalk_sign(ts, secret)}"
    elif vendor == "feishu":
        payload = {"msg_type": "text", "content": {"text": text}}
        if secret:
            ts = int(now)
            payload = {"timestamp": str(ts), "sign": feishu_sign(ts, secret), **payload}
    else:
        raise RobotError(f"unknown robot vendor {vendor!r} (wecom, dingtalk or feishu)")
    body = json.dumps(payload, ensure_ascii=False).encode()
    try:
        answer = _post(url, body, headers)
    except SmsError as exc:
        raise RobotError(str(exc)) from exc
    try:
        reply = json.loads(answer)
    except ValueError as exc:
        raise RobotError(f"unreadable answer: {answer[:200]}") from exc
    if not isinstance(reply, dict):
        raise RobotError(f"unreadable answer: {answer[:200]}")
    code = reply.get("errcode", reply.get("code", reply.get("StatusCode")))
    if code not in (0, "0"):
        message = reply.get("errmsg") or reply.get("msg") or reply.get("StatusMessage")
        raise RobotError(f"{vendor} {code}: {message}")
    return answer
