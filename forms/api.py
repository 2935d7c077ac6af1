"""Admin form for an integration's API token; portal.api.tokens checks the rules."""
from flask_babel import gettext as _
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import Length, Optional

from forms import BaseForm
from forms.admin import CheckboxesField
from portal.i18n import lazy_text as _l


class ApiTokenForm(BaseForm):
    name = StringField(_l("集成名称"), validators=[Length(max=60)])
    channels = CheckboxesField(_l("可登记的受理渠道"), validate_choice=False)
    hq = BooleanField(_l("总部直接受理（不属于任何分公司）"))
    branch_ids = CheckboxesField(_l("可登记的分公司"), validate_choice=False)
    read_only = BooleanField(_l("只读（只能查询，不能登记投诉或上传附件）"))
    rate_per_minute = IntegerField(_l("每分钟请求上限"), default=120, validators=[Optional()])
    note = StringField(_l("备注"), validators=[Optional(), Length(max=200)])

    def __init__(self, *args, channels=(), branches=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.channels.choices = [(c.value, c.label) for c in channels]
        self.branch_ids.choices = [(str(u.id), u.name) for u in branches]

    def token_data(self) -> dict:
        return {"name": self.name.data, "channels": self.channels.data or [],
                "branch_ids": [int(b) for b in (self.branch_ids.data or []) if str(b).isdigit()],
                "hq": self.hq.data, "read_only": self.read_only.data,
                "rate_per_minute": self.rate_per_minute.data, "note": self.note.data}
