"""Forms of the customer's progress page: add what was asked, rate the result, appeal.

The rules (required, 1–5, lengths) are the operations' (portal/customer/operations.py), whose
messages go beside each field; these forms only carry the fields and the case version."""
from wtforms import HiddenField, RadioField, TextAreaField
from wtforms.validators import Optional

from forms import BaseForm
from portal.cases.enums import SATISFACTION_DIMENSIONS
from portal.i18n import lazy_text as _l

SCORES = [(str(n), str(n)) for n in range(1, 6)]


class CustomerForm(BaseForm):
    version = HiddenField()


class SupplyForm(CustomerForm):
    reply = TextAreaField(_l("补充说明"), validators=[Optional()])


class RatingForm(CustomerForm):
    score_quality = RadioField(_l("质量高"), choices=SCORES, validators=[Optional()])
    score_speed = RadioField(_l("办理快"), choices=SCORES, validators=[Optional()])
    score_attitude = RadioField(_l("态度好"), choices=SCORES, validators=[Optional()])
    score_info = RadioField(_l("信息准"), choices=SCORES, validators=[Optional()])
    score_safety = RadioField(_l("够安全"), choices=SCORES, validators=[Optional()])
    comment = TextAreaField(_l("意见或建议（选填）"), validators=[Optional()])

    def scores(self) -> dict[str, int | None]:
        return {field: int(self[field].data) if str(self[field].data or "").isdigit() else None
                for field, _name in SATISFACTION_DIMENSIONS}

    def score_fields(self):
        return [self[field] for field, _name in SATISFACTION_DIMENSIONS]


class AppealForm(CustomerForm):
    reason = TextAreaField(_l("申诉理由"), validators=[Optional()])
