"""The API's errors: a stable machine code, the HTTP status, a Chinese and an English message.

Every error body is {"error": {"code", "message", "message_en", "fields"?}}; `fields` maps a
request field to its own {"message", "message_en"}. The codes are listed in the OpenAPI
document (portal/api/openapi.py reads CODES) and never change meaning once published.
"""
from __future__ import annotations

import functools
import re

from flask import jsonify
from flask_babel import gettext
from portal.i18n import force_locale

# code -> (HTTP status, Chinese message, English message). The messages are the default text;
# a raised ApiError may carry a more precise one.
CODES: dict[str, tuple[int, str, str]] = {
    "invalid_json": (400, "请求体不是有效的 JSON。", "The request body is not valid JSON."),
    "invalid_request": (400, "请求格式不正确。", "The request is malformed."),
    "unauthorized": (401, "缺少有效的接口令牌（Authorization: Bearer <令牌>）。",
                     "A valid API token is required (Authorization: Bearer <token>)."),
    "token_revoked": (401, "该接口令牌已被吊销。", "This API token has been revoked."),
    "read_only_token": (403, "该接口令牌只读，不能登记投诉或上传附件。",
                        "This API token is read-only: it cannot create cases or upload files."),
    "channel_not_allowed": (403, "该接口令牌不能登记此受理渠道的投诉。",
                            "This API token may not create cases for this channel."),
    "branch_not_allowed": (403, "该接口令牌不能为此分公司登记投诉。",
                           "This API token may not create cases for this branch."),
    "forbidden": (403, "该接口令牌无权执行此操作。", "This API token may not do this."),
    "not_found": (404, "未找到。", "Not found."),
    "method_not_allowed": (405, "不支持此请求方法。", "This method is not allowed here."),
    "idempotency_in_progress": (409, "相同 Idempotency-Key 的请求正在处理中，请稍后重试。",
                                "A request with the same Idempotency-Key is still being processed; retry shortly."),
    "conflict": (409, "投诉刚刚被他人修改，请重新读取后再试。", "The case was just changed; read it again and retry."),
    "case_closed": (409, "该投诉已结案，不能再添加附件。", "The case is closed; no more files can be added."),
    "payload_too_large": (413, "请求或文件超过大小上限。", "The request or a file is larger than allowed."),
    "unsupported_media_type": (415, "不支持的内容类型。", "Unsupported content type."),
    "validation_failed": (422, "请求内容未通过校验，请查看各字段的说明。",
                          "The request did not pass validation; see the message of each field."),
    "idempotency_key_reused": (422, "此 Idempotency-Key 已用于内容不同的请求。",
                               "This Idempotency-Key was already used with a different request body."),
    "invalid_idempotency_key": (422, "Idempotency-Key 须为 1 到 100 个可见 ASCII 字符。",
                                "Idempotency-Key must be 1 to 100 printable ASCII characters."),
    "rate_limited": (429, "请求过于频繁，请在 Retry-After 秒后重试。",
                     "Too many requests; retry after Retry-After seconds."),
    "internal_error": (500, "服务器内部错误，请稍后重试。", "Internal server error; please retry later."),
    "unavailable": (503, "服务暂时不可用，请稍后重试。", "The service is temporarily unavailable; retry later."),
}


class ApiError(Exception):
    """Raised by the API's views; turned into the JSON error by the blueprint's handler."""

    def __init__(self, code: str, message: str | None = None, message_en: str | None = None,
                 fields: dict | None = None, headers: dict | None = None, status: int | None = None):
        status_, zh, en = CODES[code]
        super().__init__(code)
        self.code, self.status = code, status or status_
        self.message = message or zh
        self.message_en = message_en or (english(message) if message else en)
        self.fields = fields or {}
        self.headers = headers or {}

    def body(self) -> dict:
        err = {"code": self.code, "message": self.message, "message_en": self.message_en}
        if self.fields:
            err["fields"] = self.fields
        return {"error": err}


def response(exc: ApiError):
    resp = jsonify(exc.body())
    resp.status_code = exc.status
    for k, v in exc.headers.items():
        resp.headers[k] = v
    return resp


def field(message_zh: str, message_en: str | None = None) -> dict:
    return {"message": message_zh, "message_en": message_en or english(message_zh)}


def both(lazy) -> dict:
    """A lazy (or plain msgid) message in both languages, for a field."""
    with force_locale("zh_CN"):
        zh = str(lazy)
    with force_locale("en"):
        en = str(lazy)
    return {"message": zh, "message_en": en}


# ---------------------------------------------------------------- Chinese → English

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@functools.cache
def _patterns() -> tuple[dict, list]:
    """The English catalogue's exact msgids and, for messages with parameters, a regex for each."""
    from flask import current_app
    from babel.messages.mofile import read_mo
    import os
    path = os.path.join(current_app.root_path, "translations", "en", "LC_MESSAGES", "messages.mo")
    with open(path, "rb") as fh:
        catalog = read_mo(fh)
    exact, patterns = {}, []
    for m in catalog:
        if not m.id or not isinstance(m.id, str) or not m.string:
            continue
        if "%(" not in m.id:
            exact[m.id] = m.string
            continue
        parts = _PLACEHOLDER.split(m.id)
        regex = ""
        for i, part in enumerate(parts):
            regex += re.escape(part.replace("%%", "%")) if i % 2 == 0 else f"(?P<{part}>.+?)"
        try:
            patterns.append((re.compile(f"^{regex}$", re.S), m.string))
        except re.error:  # the same parameter twice
            continue
    patterns.sort(key=lambda p: -len(p[0].pattern))  # the most specific first
    return exact, patterns


def english(message_zh: str) -> str:
    """The English of a Chinese message the portal produced (an operation's DomainError is
    already formatted in Chinese): the catalogue's msgid it came from, its parameters carried
    over (and translated themselves when they are labels). Untranslatable text stays as is."""
    if not message_zh:
        return message_zh
    exact, patterns = _patterns()
    if message_zh in exact:
        return exact[message_zh]
    for regex, template in patterns:
        m = regex.match(message_zh)
        if m:
            params = {k: exact.get(v, v) for k, v in m.groupdict().items()}
            try:
                return template % params
            except (KeyError, ValueError, TypeError):
                continue
    with force_locale("en"):
        return gettext(message_zh)
