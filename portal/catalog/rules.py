"""What a product or a batch must be, one rule per field, shared by the admin's form and the
import: each cleaner takes what a form or a spreadsheet cell gives (text, a number, a date)
and returns the stored value, or raises FieldError with the Chinese reason.

Text is kept as written: a cell reading "=1+1" or "@SUM(A1)" is stored as those characters,
never evaluated (the spreadsheet is read for its values, portal/catalog/importing.py).
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _, lazy_gettext as _l

from portal.batches.lookup import normalise_batch_no
from portal.clock import local, utcnow

BATCH_NO = re.compile(r"^[A-Z0-9\-_/.]{1,40}$")  # as the intake form's batch field
PRODUCT_CODE = re.compile(r"^[A-Za-z0-9\-_.]{1,32}$")
MAX_QUANTITY = 2_000_000_000  # fits the integer column
MAX_PRICE = Decimal("99999999.99")  # Numeric(10, 2)
MAX_REGIONS = 50
REGION_LEN = 60  # as Case.region
# 储运部's lists separate regions with any of these (a spreadsheet cell holds them all).
REGION_SEPARATORS = re.compile(r"[、,，;；/|\n\r\t]+")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
EARLIEST = date(2000, 1, 1)


class FieldError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def as_text(value) -> str:
    """A cell or form value as the text a person sees in it ('' for nothing)."""
    if type(value) is str:  # nearly every cell: first, for 100,000-row files
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a batch number typed into Excel comes back as 2026090110100.0
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def text(value, label, max_len: int, required: bool = False) -> str | None:
    """Text up to max_len; `label` is a lazy_gettext string, translated only for a message."""
    s = as_text(value)
    if not s:
        if required:
            raise FieldError(_("请填写%(label)s。", label=label))
        return None
    if len(s) > max_len:
        raise FieldError(_("%(label)s不能超过 %(n)s 个字。", label=label, n=max_len))
    return s


def batch_no(value) -> str:
    raw = as_text(value)
    if not raw:
        raise FieldError(_("请填写批号。"))
    s = normalise_batch_no(raw) or ""
    if len("".join(raw.split())) > 40 or not BATCH_NO.match(s):
        raise FieldError(_("批号「%(value)s」无效：只能包含字母、数字和 - _ / . 符号，最多 40 位。",
                           value=raw[:40]))
    return s


def product_code(value) -> str:
    s = as_text(value)
    if not s:
        raise FieldError(_("请填写产品编码。"))
    if not PRODUCT_CODE.match(s):
        raise FieldError(_("产品编码「%(value)s」无效：只能包含字母、数字和 - _ . 符号，最多 32 位。",
                           value=s[:32]))
    return s.upper()


def production_date(value, today: date | None = None) -> date:
    """A day from a date cell or text, not after `today` (Asia/Shanghai) nor before 2000."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        s = as_text(value)
        if not s:
            raise FieldError(_("请填写生产日期。"))
        day = _parse_date(s)
        if day is None:
            raise FieldError(_("生产日期「%(value)s」不是有效日期，请写成 2026-09-01。", value=s[:20]))
    if day > (today or local(utcnow()).date()):
        raise FieldError(_("生产日期 %(day)s 晚于今天。", day=day.isoformat()))
    if day < EARLIEST:
        raise FieldError(_("生产日期 %(day)s 早于 2000 年。", day=day.isoformat()))
    return day


def _parse_date(s: str) -> date | None:
    s = s.split()[0].split("T")[0]  # a date written with its time: "2026-09-01 00:00:00"
    if len(s) == 10 and s[4] == "-":
        try:
            return date.fromisoformat(s)  # most files; a tenth of strptime's cost
        except ValueError:
            return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    return None


def quantity(value) -> int | None:
    s = as_text(value).replace(",", "").replace("，", "")
    if not s:
        return None
    try:
        n = int(s)
    except ValueError:
        raise FieldError(_("生产数量「%(value)s」不是整数。", value=s[:20])) from None
    if not 0 <= n <= MAX_QUANTITY:
        raise FieldError(_("生产数量须在 0 到 %(max)s 之间。", max=MAX_QUANTITY))
    return n


def unit_price(value) -> Decimal | None:
    s = as_text(value).replace(",", "").lstrip("¥￥")
    if not s:
        return None
    try:
        price = Decimal(s)
    except InvalidOperation:
        raise FieldError(_("单价「%(value)s」不是数字。", value=s[:20])) from None
    if not price.is_finite() or price < 0 or price > MAX_PRICE:
        raise FieldError(_("单价须在 0 到 %(max)s 元之间。", max=MAX_PRICE))
    if price != price.quantize(Decimal("0.01")):
        raise FieldError(_("单价最多两位小数。"))
    return price.quantize(Decimal("0.01"))


def regions(value) -> list[str]:
    """A list of region names from a list, or from text with 、 , ; / or line breaks between."""
    parts = value if isinstance(value, (list, tuple)) else REGION_SEPARATORS.split(as_text(value))
    names: list[str] = []
    for part in parts:
        name = " ".join(as_text(part).split())
        if not name or name in names:
            continue
        if len(name) > REGION_LEN:
            raise FieldError(_("发往地区「%(value)s」超过 %(n)s 个字。", value=name[:20] + "…", n=REGION_LEN))
        names.append(name)
    if len(names) > MAX_REGIONS:
        raise FieldError(_("发往地区最多 %(n)s 个。", n=MAX_REGIONS))
    return names


PRODUCT_NAME, SPEC, LINE, SHIFT = _l("产品名称"), _l("规格"), _l("生产线"), _l("班次")


def product_fields() -> dict:
    """The cleaners of a product's own fields."""
    return {"code": product_code, "name": lambda v: text(v, PRODUCT_NAME, 100, required=True),
            "spec": lambda v: text(v, SPEC, 100), "unit_price": unit_price}


def batch_fields() -> dict:
    """The cleaners of a batch's own fields; its product and department are looked up by
    the caller (an id from the form, a code or a name from a spreadsheet). Built once per
    form or file: "today" is read once."""
    today = local(utcnow()).date()
    return {"batch_no": batch_no, "production_date": lambda v: production_date(v, today),
            "line": lambda v: text(v, LINE, 40), "shift": lambda v: text(v, SHIFT, 20),
            "quantity": quantity, "shipped_regions": regions}


def clean(raw: dict, cleaners: dict) -> tuple[dict, dict[str, str]]:
    """Every field cleaned, and the reason for each one that is wrong (all, not the first)."""
    values, errors = {}, {}
    for name, cleaner in cleaners.items():
        try:
            values[name] = cleaner(raw.get(name))
        except FieldError as exc:
            errors[name] = exc.message
    return values, errors
