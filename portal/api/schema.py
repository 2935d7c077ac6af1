"""The fields of POST /api/v1/cases: their JSON types, read by the request check and by the
OpenAPI document. Lengths, patterns and ranges come from the intake form itself
(forms/cases.IntakeForm), so the API, its document and the desk's form cannot drift apart."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.cases.enums import CustomerType

# name -> (JSON type, required, description (Chinese), English description)
CREATE_FIELDS: dict[str, tuple[str, bool, str, str]] = {
    "channel": ("channel", True, "受理渠道：投诉最初是从哪里来的（热线、微信……），须在令牌允许的渠道内",
                "How the complaint reached the company (hotline, wechat, ...); one of the token's channels"),
    "branch_id": ("integer", False, "所属分公司 id（GET /api/v1/branches 列出令牌可用的分公司）；不填为总部直接受理",
                  "Id of the branch the case belongs to (GET /api/v1/branches lists the token's); omitted: headquarters"),
    "received_at": ("date-time", False, "实际收到时间（ISO 8601，含时区）；传真、信函、电子邮件、媒体、职能部门渠道必填",
                    "When the complaint was received (ISO 8601 with offset); required for fax, letter, email, media, regulator"),
    "customer_name": ("string", True, "顾客姓名", "Customer's name"),
    "customer_phone": ("string", True, "联系电话", "Customer's phone"),
    "customer_type": ("customer_type", False, "顾客类型，默认 consumer", "Customer type, default consumer"),
    "customer_address": ("string", False, "地址", "Address"),
    "region": ("string", False, "地区", "Region"),
    "product_id": ("integer", False, "产品目录中的产品 id（GET /api/v1/products）", "Product id from GET /api/v1/products"),
    "product_name": ("string", False, "产品名称；给出 product_id 时可省略", "Product name; may be omitted with product_id"),
    "product_spec": ("string", False, "规格", "Specification"),
    "batch_no": ("string", False, "生产批号", "Batch number"),
    "production_date": ("date", False, "生产日期（YYYY-MM-DD）", "Production date (YYYY-MM-DD)"),
    "quantity": ("integer", False, "涉及数量", "Quantity involved"),
    "purchase_place": ("string", False, "购买地点", "Where it was bought"),
    "purchase_date": ("date", False, "购买日期（YYYY-MM-DD）", "Purchase date (YYYY-MM-DD)"),
    "description": ("string", True, "问题描述", "What the customer reports"),
    "demand": ("string", False, "顾客诉求", "What the customer asks for"),
    "urgent": ("boolean", False, "紧急", "Urgent"),
    "threatens_media": ("boolean", False, "顾客声称将向职能部门或媒体反映", "The customer threatens to go to the authorities or the media"),
}

# The form's own fields the API fills (the rest: channel, branch_id and received_at are the
# API's, checked against the token's scope).
FORM_FIELDS = [n for n in CREATE_FIELDS if n not in ("channel", "branch_id", "received_at")]

MSG_TYPE = {
    "string": _l("须为字符串"), "integer": _l("须为整数"), "boolean": _l("须为 true 或 false"),
    "date": _l("须为 YYYY-MM-DD 格式的日期字符串"), "date-time": _l("须为 ISO 8601 日期时间字符串"),
    "channel": _l("须为受理渠道代码之一"), "customer_type": _l("须为顾客类型代码之一"),
}
MSG_UNKNOWN = _l("未知字段")
MSG_REQUIRED = _l("此项为必填项")
MSG_NOT_OBJECT = _l("请求体须为 JSON 对象")
MSG_PRODUCT = _l("产品目录中没有这个产品")
MSG_BRANCH = _l("分公司不存在")
MSG_RECEIVED = _l("须为 ISO 8601 日期时间，例如 2026-12-01T09:30:00+08:00")


def form_constraints() -> dict[str, dict]:
    """JSON-schema constraints of each form field, read off the IntakeForm's validators."""
    from wtforms.validators import DataRequired, Length, NumberRange, Regexp

    from forms.cases import IntakeForm
    form = IntakeForm(formdata=None, meta={"csrf": False}, desk=True, branches=())
    out: dict[str, dict] = {}
    for name in FORM_FIELDS:
        c: dict = {}
        for v in form[name].validators:
            if isinstance(v, Length):
                if v.max and v.max > 0:
                    c["maxLength"] = v.max
            elif isinstance(v, Regexp):
                c["pattern"] = v.regex.pattern
            elif isinstance(v, NumberRange):
                if v.min is not None:
                    c["minimum"] = v.min
                if v.max is not None:
                    c["maximum"] = v.max
            elif isinstance(v, DataRequired):
                c["minLength"] = 1
                c.setdefault("pattern", r"\S")  # not only spaces (the form strips them)
        out[name] = c
    return out


CUSTOMER_TYPES = [c.value for c in CustomerType]
