"""Admin form for a unit's group robot; portal.notify.robot_settings checks the rules."""
from flask_babel import gettext as _
from wtforms import SelectField, StringField
from wtforms.validators import Length

from forms import BaseForm
from forms.admin import unit_choices
from portal.notify.robot_settings import RobotVendor
from portal.i18n import lazy_text as _l


class RobotForm(BaseForm):
    unit_id = SelectField(_l("所属机构"), validate_choice=False)
    vendor = SelectField(_l("类型"), validate_choice=False)
    name = StringField(_l("名称"), validators=[Length(max=100)])
    url = StringField(_l("Webhook 地址"), validators=[Length(max=500)],
                      render_kw={"inputmode": "url", "autocomplete": "off", "spellcheck": "false"})
    secret = StringField(_l("加签密钥"), validators=[Length(max=200)],
                         render_kw={"autocomplete": "off", "spellcheck": "false"})

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_id.choices = unit_choices(units, _("请选择"))
        self.vendor.choices = [("", _("请选择"))] + RobotVendor.choices()

    def robot_data(self) -> dict:
        return {name: self[name].data for name in ("unit_id", "vendor", "name", "url", "secret")}
