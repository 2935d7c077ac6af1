"""Admin form for a webhook endpoint; portal.webhooks.operations checks the rules."""
from flask_babel import gettext as _
from wtforms import StringField
from wtforms.validators import Length

from forms import BaseForm
from forms.admin import CheckboxesField
from portal.webhooks.events import EVENTS
from portal.i18n import lazy_text as _l


class WebhookForm(BaseForm):
    name = StringField(_l("名称"), validators=[Length(max=100)])
    url = StringField(_l("接收地址"), validators=[Length(max=500)],
                      render_kw={"inputmode": "url", "autocomplete": "off", "spellcheck": "false",
                                 "placeholder": "https://"})
    # Checked by the operation (its message beside the field), not "not a valid choice".
    events = CheckboxesField(_l("订阅的事件"), validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events.choices = [(code, _("%(label)s（%(code)s）", label=_(label), code=code)) for code, label in EVENTS.items()]

    def endpoint_data(self) -> dict:
        return {"name": self.name.data, "url": self.url.data, "events": list(self.events.data or [])}
