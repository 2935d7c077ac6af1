"""Admin forms for time limits and the holiday calendar. They carry what was typed; the rules
(no negative limit, reminder points in order, repeat needs its interval) are checked by
portal.sla.operations, which says what is wrong beside each field."""
from flask_babel import gettext as _
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from forms import BaseForm
from forms.cases import REQUIRED
from portal.cases.enums import Channel, Klass
from portal.sla.enums import BreachAction, CalendarKind, DayKind
from portal.steps import Clock, Step
from portal.i18n import lazy_text as _l


def target_choices() -> list[tuple[str, str]]:
    return ([(f"step:{s.value}", _("步骤：%(label)s", label=s.label)) for s in Step]
            + [(f"clock:{c.value}", _("时钟：%(label)s（自%(anchor)s起）", label=c.label, anchor=c.anchor.label))
               for c in Clock])


class PolicyForm(BaseForm):
    target = SelectField(_l("步骤或时钟"), validators=[DataRequired(REQUIRED)])
    klass = SelectField(_l("投诉类别"), validators=[Optional()])
    channel = SelectField(_l("受理渠道"), validators=[Optional()])
    minutes = StringField(_l("时限（分钟）"), render_kw={"inputmode": "decimal"})
    calendar = SelectField(_l("计时日历"), choices=CalendarKind.choices)
    reminder_percents = StringField(_l("提醒点（百分比）"))
    breach_action = SelectField(_l("超时处理"), choices=BreachAction.choices)
    repeat_minutes = StringField(_l("重复间隔（分钟）"), render_kw={"inputmode": "decimal"})
    active = BooleanField(_l("启用"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.target.choices = target_choices()
        self.klass.choices = [("", _("全部类别"))] + Klass.choices()
        self.channel.choices = [("", _("全部渠道"))] + Channel.choices()

    def policy_data(self) -> dict:
        return {name: self[name].data for name in
                ("target", "klass", "channel", "minutes", "calendar", "reminder_percents",
                 "breach_action", "repeat_minutes", "active")}


class HolidayForm(BaseForm):
    day = DateField(_l("日期"), validators=[DataRequired(_l("请填写日期，如 2026-10-01"))])
    kind = SelectField(_l("类型"), choices=DayKind.choices)
    name = StringField(_l("名称"), validators=[Optional(), Length(max=40)])


class HolidayPasteForm(BaseForm):
    lines = TextAreaField(_l("粘贴多行"), validators=[DataRequired(REQUIRED), Length(max=20000)])
