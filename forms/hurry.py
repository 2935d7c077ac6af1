"""催办 (hurry-up): the step the page showed, and an optional short remark for the mail."""
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

from forms import BaseForm
from portal.cases.hurry import NOTE_MAX
from portal.i18n import lazy_text as _l


class HurryForm(BaseForm):
    step = HiddenField(_l("待办事项"), validators=[DataRequired(_l("页面已过期，请刷新后重试"))])
    note = StringField(_l("附言（可选）"), validators=[Optional(), Length(max=NOTE_MAX)])
