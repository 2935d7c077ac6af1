"""The OpenAPI 3.1 document of /api/v1/: the contract the tests check (schemathesis) and the
integrators' page is drawn from (portal/apidocs). Built from the code it describes: the create
fields and their limits (portal/api/schema.py, read off the intake form), the error codes
(portal/api/errors.CODES), the channels and customer types (the enums)."""
from __future__ import annotations

from flask import current_app

from portal.api.errors import CODES
from portal.api.schema import CREATE_FIELDS, CUSTOMER_TYPES, form_constraints
from portal.api.tokens import API_CHANNELS, MAX_RATE

VERSION = "1.0.0"
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    out = dict(schema)
    out["type"] = [schema["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def _field_schema(name: str, kind: str, limits: dict) -> dict:
    if kind == "channel":
        return {"type": "string", "enum": [c.value for c in API_CHANNELS]}
    if kind == "customer_type":
        return {"type": "string", "enum": CUSTOMER_TYPES}
    if kind == "date":
        return {"type": "string", "format": "date"}
    if kind == "date-time":
        return {"type": "string", "format": "date-time"}
    if kind == "integer":
        s = {"type": "integer"}
        for k in ("minimum", "maximum"):
            if k in limits:
                s[k] = limits[k]
        return s
    if kind == "boolean":
        return {"type": "boolean"}
    s = {"type": "string"}
    for k in ("minLength", "maxLength", "pattern"):
        if k in limits:
            s[k] = limits[k]
    return s


def _create_schema() -> dict:
    limits = form_constraints()
    props, required = {}, []
    for name, (kind, req, zh, en) in CREATE_FIELDS.items():
        s = _field_schema(name, kind, limits.get(name, {}))
        if not req:
            s = _nullable(s)
        s["description"] = f"{zh}。{en}."
        props[name] = s
        if req:
            required.append(name)
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False,
            "description": "登记一条投诉：与客服登记表单相同的校验。Register a complaint, checked as the intake form checks it.",
            "example": {"channel": "hotline", "customer_name": "王秀英", "customer_phone": "13912345678",
                        "product_name": "三鲜水饺", "product_spec": "500g/袋", "batch_no": "2026090110100",
                        "description": "水饺中吃出一根头发", "demand": "退货并赔偿"}}


def _label_schema(codes: list[str] | None = None) -> dict:
    code = {"type": "string"}
    if codes:
        code["enum"] = codes
    return {"type": "object", "required": ["code", "label", "label_en"], "additionalProperties": False,
            "properties": {"code": code, "label": {"type": "string", "description": "中文"},
                           "label_en": {"type": "string", "description": "English"}}}


def _schemas() -> dict:
    from portal.cases.enums import Channel, SettlementForm
    from portal.cases.states import State
    message = {"type": "object", "required": ["message", "message_en"], "additionalProperties": False,
               "properties": {"message": {"type": "string", "description": "中文说明"},
                              "message_en": {"type": "string", "description": "English"}}}
    links = {"type": "object", "required": ["self", "attachments", "desk"], "additionalProperties": False,
             "properties": {"self": {"type": "string"}, "attachments": {"type": "string"},
                            "desk": {"type": "string", "description": "客服在门户中的投诉页面 The case's page in the portal (staff)"},
                            "customer": {"type": ["string", "null"], "description":
                                         "顾客的进度页（与受理短信中的链接相同，可转给顾客）"
                                         " The customer's progress page, as in the acknowledgement SMS (pass it on to the customer)"}}}
    dt = {"type": ["string", "null"], "format": "date-time"}
    return {
        "CaseCreate": _create_schema(),
        "Label": _label_schema(),
        "State": _label_schema([s.value for s in State]),
        "Channel": _label_schema([c.value for c in Channel]),
        "SolutionForm": _label_schema([s.value for s in SettlementForm]),
        "Links": links,
        "CaseCreated": {
            "type": "object", "required": ["number", "status", "links"], "additionalProperties": False,
            "properties": {"number": {"type": "string", "description": "投诉编号 Case number, e.g. KS2026-000123"},
                           "status": _ref("State"), "links": _ref("Links")}},
        "Result": {
            "type": "object", "required": ["kind", "solution_form", "text", "compensation"],
            "additionalProperties": False,
            "description": "告知顾客的处理结果或不予受理的理由 What the customer is told: the solution, or why it was refused",
            "properties": {"kind": {"type": "string", "enum": ["solution", "rejected"]},
                           "solution_form": {"oneOf": [_ref("SolutionForm"), {"type": "null"}]},
                           "text": {"type": ["string", "null"]},
                           "compensation": {"type": ["string", "null"], "description": "补偿摘要（中文）"}}},
        "CaseStatus": {
            "type": "object", "additionalProperties": False,
            "required": ["number", "channel", "status", "received_at", "due_at", "closed_at", "result",
                         "attachments", "links"],
            "description": "投诉的公开状态：不含内部记录、顾客电话或经办人姓名。Public status: no internal notes, phone or staff names.",
            "properties": {"number": {"type": "string"}, "channel": _ref("Channel"), "status": _ref("State"),
                           "received_at": {"type": "string", "format": "date-time"},
                           "due_at": {**dt, "description": "当前步骤的办理时限 Due time of the current step"},
                           "closed_at": dt,
                           "result": {"oneOf": [_ref("Result"), {"type": "null"}]},
                           "attachments": {"type": "integer", "minimum": 0},
                           "links": _ref("Links")}},
        "AttachmentsAdded": {
            "type": "object", "required": ["number", "attachments"], "additionalProperties": False,
            "properties": {"number": {"type": "string"}, "attachments": {"type": "array", "items": {
                "type": "object", "required": ["name", "content_type", "size", "sha256"], "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "content_type": {"type": "string"},
                               "size": {"type": "integer"}, "sha256": {"type": "string"}}}}}},
        "Product": {"type": "object", "required": ["id", "code", "name", "spec"], "additionalProperties": False,
                    "properties": {"id": {"type": "integer"}, "code": {"type": "string"}, "name": {"type": "string"},
                                   "spec": {"type": ["string", "null"]}}},
        "Category": {"type": "object", "required": ["id", "code", "name", "parent_id"], "additionalProperties": False,
                     "properties": {"id": {"type": "integer"}, "code": {"type": "string"}, "name": {"type": "string"},
                                    "parent_id": {"type": ["integer", "null"]}}},
        "ChannelItem": {"type": "object", "required": ["code", "label", "label_en", "allowed"],
                        "additionalProperties": False,
                        "properties": {"code": {"type": "string", "enum": [c.value for c in API_CHANNELS]},
                                       "label": {"type": "string"}, "label_en": {"type": "string"},
                                       "allowed": {"type": "boolean", "description": "该令牌可否登记此渠道 Whether this token may use it"}}},
        "Branch": {"type": "object", "required": ["id", "code", "name"], "additionalProperties": False,
                   "properties": {"id": {"type": "integer"}, "code": {"type": "string"}, "name": {"type": "string"}}},
        "FieldError": message,
        "Error": {
            "type": "object", "required": ["error"], "additionalProperties": False,
            "properties": {"error": {
                "type": "object", "required": ["code", "message", "message_en"], "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": sorted(CODES),
                             "description": "稳定的错误代码（见 x-error-codes）Stable machine code (see x-error-codes)"},
                    "message": {"type": "string", "description": "中文说明"},
                    "message_en": {"type": "string", "description": "English"},
                    "fields": {"type": "object", "additionalProperties": _ref("FieldError"),
                               "description": "各字段的说明 A message per request field"}}}}},
    }


def _error_response(status: int) -> dict:
    codes = sorted(c for c, (s, _zh, _en) in CODES.items() if s == status)
    desc = "；".join(f"{c}：{CODES[c][1]}" for c in codes) + " / " + "; ".join(f"{c}: {CODES[c][2]}" for c in codes)
    out = {"description": desc, "content": {"application/json": {"schema": _ref("Error")}}}
    if status == 429:
        out["headers"] = {"Retry-After": {"description": "几秒后可重试 Seconds until the window resets",
                                          "schema": {"type": "integer"}}}
    if status == 401:
        out["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return out


def _errors(*statuses: int) -> dict:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


def _ok(schema: dict, description: str, status: str = "200", headers: dict | None = None) -> dict:
    out = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return {status: out}


RATE_HEADERS = {"X-RateLimit-Limit": {"schema": {"type": "integer"}, "description": "每分钟上限 Requests per minute"},
                "X-RateLimit-Remaining": {"schema": {"type": "integer"}},
                "X-RateLimit-Reset": {"schema": {"type": "integer"}, "description": "秒 Seconds until the window resets"}}


def _list(item: str, description: str, extra: dict | None = None) -> dict:
    props = {"items": {"type": "array", "items": _ref(item)}, **(extra or {})}
    return _ok({"type": "object", "required": list(props), "additionalProperties": False, "properties": props},
               description, headers=RATE_HEADERS)


def _paths() -> dict:
    number = {"name": "number", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 16},
              "description": "投诉编号 Case number", "example": "KS2026-000001"}
    idem = {"name": "Idempotency-Key", "in": "header", "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[!-~]+$"},
            "description": ("同一令牌、同一键重试时返回第一次创建的投诉（响应头 Idempotency-Replayed: true），绝不创建第二条；"
                            "同一键、不同内容返回 422 idempotency_key_reused。"
                            " A retry with the same key returns the first case (Idempotency-Replayed: true), never a"
                            " second; the same key with a different body is 422 idempotency_key_reused.")}
    max_mb = current_app.config["MAX_FILE_BYTES"] // (1024 * 1024)
    created_headers = {"Location": {"schema": {"type": "string"}},
                       "Idempotency-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                                                "description": "重放第一次的结果时出现 Present when the first result is replayed"},
                       **RATE_HEADERS}
    binary = {"type": "string", "contentMediaType": "application/octet-stream"}
    return {
        "/cases": {"post": {
            "operationId": "createCase", "tags": ["cases"],
            "summary": "登记投诉 Create a case",
            "description": ("与客服登记表单相同的校验；可用 multipart/form-data 同时上传照片（data 为 JSON，files 为文件）。"
                            f"单个文件不超过 {max_mb} MB。 Checked like the intake form; multipart/form-data carries the"
                            f" JSON as `data` and photos as `files` (each up to {max_mb} MB)."),
            "parameters": [idem],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("CaseCreate")},
                "multipart/form-data": {"schema": {
                    "type": "object", "required": ["data"],
                    "properties": {"data": {"type": "string", "contentMediaType": "application/json",
                                            "description": "CaseCreate 的 JSON 文本 The CaseCreate JSON"},
                                   "files": {"type": "array", "items": binary}}},
                    "encoding": {"data": {"contentType": "application/json"},
                                 "files": {"contentType": "image/jpeg, image/png, image/heic, image/webp, application/pdf"}}}}},
            "responses": {**_ok(_ref("CaseCreated"), "已登记（或按 Idempotency-Key 重放） Created (or replayed)", "201",
                                created_headers),
                          **_errors(400, 401, 403, 409, 413, 415, 422, 429)}}},
        "/cases/{number}": {"get": {
            "operationId": "getCase", "tags": ["cases"], "summary": "投诉的公开状态 A case's public status",
            "description": "只能读取令牌范围内（渠道、分公司）的投诉；其他投诉一律 404。 Only cases in the token's scope; others are 404.",
            "parameters": [number],
            "responses": {**_ok(_ref("CaseStatus"), "投诉状态 The case", headers=RATE_HEADERS),
                          **_errors(401, 404, 429)}}},
        "/cases/{number}/attachments": {"post": {
            "operationId": "addAttachments", "tags": ["cases"], "summary": "上传附件 Attach files",
            "description": ("multipart/form-data 的 file（可多个），或直接以 image/jpeg、image/png、image/heic、image/webp、"
                            "application/pdf 为请求体（文件名可放在 X-Filename 头）。与表单相同的检查：大小、像素、格式。"
                            " Multipart `file` (one or more), or the file itself as the body (name in X-Filename);"
                            " checked like the form: size, pixels, type."),
            "parameters": [number, {"name": "X-Filename", "in": "header", "required": False,
                                    "schema": {"type": "string", "maxLength": 120}}],
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                   "properties": {"file": {"type": "array", "items": binary}}}},
                **{t: {"schema": binary} for t in ("image/jpeg", "image/png", "image/heic", "image/webp", "application/pdf")}}},
            "responses": {**_ok(_ref("AttachmentsAdded"), "已添加 Added", "201", RATE_HEADERS),
                          **_errors(400, 401, 403, 404, 409, 413, 415, 422, 429)}}},
        "/products": {"get": {
            "operationId": "listProducts", "tags": ["reference"], "summary": "产品目录 Products",
            "responses": {**_list("Product", "在用的产品 Active products"), **_errors(401, 429)}}},
        "/categories": {"get": {
            "operationId": "listCategories", "tags": ["reference"], "summary": "原因分类 Cause categories",
            "responses": {**_list("Category", "在用的原因分类（树：parent_id）Active categories (a tree by parent_id)"),
                          **_errors(401, 429)}}},
        "/channels": {"get": {
            "operationId": "listChannels", "tags": ["reference"], "summary": "受理渠道 Channels",
            "responses": {**_list("ChannelItem", "渠道及该令牌可否使用 Channels and whether this token may use them"),
                          **_errors(401, 429)}}},
        "/branches": {"get": {
            "operationId": "listBranches", "tags": ["reference"], "summary": "令牌可用的分公司 The token's branches",
            "responses": {**_list("Branch", "该令牌可登记的分公司；hq 为可否登记总部直接受理的投诉 Branches; hq: may create headquarters cases",
                                  {"hq": {"type": "boolean"}}),
                          **_errors(401, 429)}}},
        "/openapi.json": {"get": {
            "operationId": "openapi", "tags": ["meta"], "summary": "本文档 This document", "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    }


def document() -> dict:
    """The whole OpenAPI 3.1 document (a new dict each call)."""
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    return {
        "openapi": "3.1.0",
        "info": {"title": "客诉处理门户 接口 Complaint Portal API", "version": VERSION,
                 "description": ("各集成系统（呼叫中心、CRM、微信小程序……）登记投诉、上传附件、查询进度。"
                                 "令牌由系统管理员在“系统管理 → 接口令牌”签发。错误均为 JSON：error.code（稳定代码）、"
                                 "error.message（中文）、error.message_en（英文）。"
                                 " Integrations register complaints, attach files and read progress; an administrator"
                                 " issues tokens (Admin → API tokens). Errors are JSON with a stable code and a Chinese"
                                 " and an English message."),
                 "x-rate-limit": f"每个令牌每分钟的请求数由管理员设定（1–{MAX_RATE}）Per token per minute, set by the administrator"},
        "servers": [{"url": f"{base}/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": "cases", "description": "投诉 Cases"}, {"name": "reference", "description": "参考数据 Reference data"},
                 {"name": "meta", "description": "文档 The document"}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "kp_<prefix>_<secret>",
                                           "description": "Authorization: Bearer kp_xxxxxxxx_…（签发时只显示一次 shown once）"}},
            "schemas": _schemas(),
            "responses": {f"E{s}": _error_response(s) for s in ERROR_STATUSES},
        },
        "x-error-codes": [{"code": c, "status": s, "message": zh, "message_en": en}
                          for c, (s, zh, en) in sorted(CODES.items(), key=lambda kv: (kv[1][0], kv[0]))],
    }
