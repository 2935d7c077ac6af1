"""SMS providers behind one interface: an outbox-only stand-in for development, a generic
HTTP gateway, and adapters for Aliyun and Tencent Cloud SMS, signed by hand as their public
API documents describe (no vendor SDKs)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

TIMEOUT_SECONDS = 10


class SmsError(Exception):
    """The provider refused the message or could not be reached; the outbox retries later."""


class SmsProvider:
    def send(self, phone: str, text: str) -> str:
        """Send one message; return the provider's answer (kept on the outbox row)."""
        raise NotImplementedError


class OutboxOnlyProvider(SmsProvider):
    """Development: nothing leaves the machine, the outbox row is the whole record."""

    def send(self, phone: str, text: str) -> str:
        return "outbox-only"


class HttpSmsProvider(SmsProvider):
    """A company gateway taking {"phone", "text"} as JSON with a bearer token."""

    def __init__(self, url: str, token: str | None = None):
        self.url, self.token = url, token

    def send(self, phone: str, text: str) -> str:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"phone": phone, "text": text}, ensure_ascii=False).encode()
        return _post(self.url, body, headers)


# -- Aliyun (dysmsapi, RPC signature version 1.0) --------------------------------------------

def _percent_encode(value) -> str:
    # Aliyun's RPC encoding is RFC 3986: only A-Z a-z 0-9 - _ . ~ stay, space is %20, * is %2A.
    return urllib.parse.quote(str(value), safe="~")


def aliyun_signature(params: dict, access_key_secret: str, method: str = "GET") -> str:
    """HMAC-SHA1 over METHOD&%2F&<sorted, encoded query>, keyed with the secret plus "&"."""
    query = "&".join(f"{_percent_encode(k)}={_percent_encode(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{_percent_encode('/')}&{_percent_encode(query)}"
    digest = hmac.new(f"{access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSmsProvider(SmsProvider):
    """Aliyun SendSms. Aliyun only sends approved templates, so the text goes into one
    template variable (`template_param`, e.g. a template "${content}")."""

    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str,
                 template_code: str, template_param: str = "content",
                 endpoint: str = "https://dysmsapi.aliyuncs.com/", region: str = "cn-hangzhou"):
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        self.sign_name, self.template_code, self.template_param = sign_name, template_code, template_param
        self.endpoint, self.region = endpoint, region

    def send(self, phone: str, text: str) -> str:
        params = {
            "AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON",
            "PhoneNumbers": phone, "RegionId": self.region, "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0", "TemplateCode": self.template_code,
            "TemplateParam": json.dumps({self.template_param: text}, ensure_ascii=False),
            # The vendor checks the real time, so not the portal clock that tests move.
            "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        # POST keeps the phone number and text out of URLs that proxies log.
        params["Signature"] = aliyun_signature(params, self.access_key_secret, "POST")
        body = urllib.parse.urlencode(params, quote_via=urllib.parse.quote).encode()
        answer = _post(self.endpoint, body, {"Content-Type": "application/x-www-form-urlencoded"})
        reply = _json(answer)
        if reply.get("Code") != "OK":
            raise SmsError(f"Aliyun {reply.get('Code')}: {reply.get('Message')}")
        return answer


# -- Tencent Cloud (API 3.0, TC3-HMAC-SHA256) ------------------------------------------------

def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_authorization(secret_id: str, secret_key: str, *, service: str, host: str,
                      payload: bytes, timestamp: int,
                      content_type: str = "application/json; charset=utf-8") -> str:
    """The Authorization header of a POST with the headers content-type and host signed."""
    canonical_request = "\n".join([
        "POST", "/", "",
        f"content-type:{content_type}\nhost:{host}\n",
        "content-type;host",
        _sha256_hex(payload),
    ])
    # The credential date is the UTC date of the timestamp, whatever the local zone.
    date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{_sha256_hex(canonical_request.encode())}"
    key = _hmac_sha256(_hmac_sha256(_hmac_sha256(f"TC3{secret_key}".encode(), date), service),
                       "tc3_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
            f"SignedHeaders=content-type;host, Signature={signature}")


class TencentSmsProvider(SmsProvider):
    """Tencent Cloud SendSms (2021-01-11); the text fills the template's single parameter {1}."""

    def __init__(self, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str,
                 template_id: str, region: str = "ap-guangzhou",
                 endpoint: str = "https://sms.tencentcloudapi.com/"):
        self.secret_id, self.secret_key = secret_id, secret_key
        self.sdk_app_id, self.sign_name, self.template_id = sdk_app_id, sign_name, template_id
        self.region, self.endpoint = region, endpoint

    def send(self, phone: str, text: str) -> str:
        # Tencent wants E.164; our users' numbers are mainland numbers without the prefix.
        number = phone if phone.startswith("+") else f"+86{phone}"
        payload = json.dumps({
            "PhoneNumberSet": [number], "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name, "TemplateId": self.template_id,
            "TemplateParamSet": [text],
        }, ensure_ascii=False).encode()
        timestamp = int(time.time())  # the vendor's clock, not the portal's
        content_type = "application/json; charset=utf-8"
        host = urllib.parse.urlsplit(self.endpoint).netloc  # urllib sends this Host header
        headers = {
            "Authorization": tc3_authorization(self.secret_id, self.secret_key, service="sms",
                                               host=host, payload=payload, timestamp=timestamp,
                                               content_type=content_type),
            "Content-Type": content_type,
            "X-TC-Action": "SendSms", "X-TC-Version": "2021-01-11",
            "X-TC-Timestamp": str(timestamp), "X-TC-Region": self.region,
        }
        answer = _post(self.endpoint, payload, headers)
        reply = _json(answer).get("Response") or {}
        if "Error" in reply:
            raise SmsError(f"Tencent {reply['Error'].get('Code')}: {reply['Error'].get('Message')}")
        statuses = reply.get("SendStatusSet") or [{}]
        if statuses[0].get("Code") != "Ok":
            raise SmsError(f"Tencent {statuses[0].get('Code')}: {statuses[0].get('Message')}")
        return answer


# -- Shared plumbing --------------------------------------------------------------------------

def _post(url: str, body: bytes, headers: dict[str, str]) -> str:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace")
        raise SmsError(f"HTTP {exc.code} from {url}: {detail}") from exc
    except OSError as exc:  # URLError, refused connections and timeouts alike
        raise SmsError(f"{url}: {exc}") from exc


def _json(answer: str) -> dict:
    try:
        reply = json.loads(answer)
    except ValueError as exc:
        raise SmsError(f"unreadable answer: {answer[:200]}") from exc
    return reply if isinstance(reply, dict) else {}


def _setting(config, key: str) -> str:
    value = config.get(key)
    if not value:
        raise SmsError(f"{key} is not configured")
    return value


def get_provider(config) -> SmsProvider:
    """The provider named by SMS_PROVIDER: outbox (default), http, aliyun or tencent.
    A missing setting raises SmsError, so the outbox row shows what to configure."""
    name = (config.get("SMS_PROVIDER") or "outbox").lower()
    if name == "outbox":
        return OutboxOnlyProvider()
    if name == "http":
        return HttpSmsProvider(_setting(config, "SMS_HTTP_URL"), config.get("SMS_HTTP_TOKEN"))
    if name == "aliyun":
        return AliyunSmsProvider(
            _setting(config, "SMS_ALIYUN_ACCESS_KEY_ID"), _setting(config, "SMS_ALIYUN_ACCESS_KEY_SECRET"),
            _setting(config, "SMS_ALIYUN_SIGN_NAME"), _setting(config, "SMS_ALIYUN_TEMPLATE_CODE"),
            template_param=config.get("SMS_ALIYUN_TEMPLATE_PARAM") or "content",
            endpoint=config.get("SMS_ALIYUN_ENDPOINT") or "https://dysmsapi.aliyuncs.com/")
    if name == "tencent":
        return TencentSmsProvider(
            _setting(config, "SMS_TENCENT_SECRET_ID"), _setting(config, "SMS_TENCENT_SECRET_KEY"),
            _setting(config, "SMS_TENCENT_SDK_APP_ID"), _setting(config, "SMS_TENCENT_SIGN_NAME"),
            _setting(config, "SMS_TENCENT_TEMPLATE_ID"),
            region=config.get("SMS_TENCENT_REGION") or "ap-guangzhou",
            endpoint=config.get("SMS_TENCENT_ENDPOINT") or "https://sms.tencentcloudapi.com/")
    raise SmsError(f"unknown SMS_PROVIDER {name!r} (outbox, http, aliyun or tencent)")
