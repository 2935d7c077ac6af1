"""The typical-case form: lessons learned and tags (the operation checks and normalises them)."""
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from forms import BaseForm
from portal.i18n import lazy_text as _l


class TypicalForm(BaseForm):
    lessons = TextAreaField(_l("处理心得"), validators=[DataRequired(_l("请填写处理心得。")), Length(max=4000)])
    tags = StringField(_l("标签（以空格或逗号分隔）"), validators=[Optional(), Length(max=200)])
    version = HiddenField()
