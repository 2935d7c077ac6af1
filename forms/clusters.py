"""Forms of the batch clusters: the rule, quality's class decision, closing a cluster.
They carry what was typed; portal.clusters.operations checks it and says what is wrong."""
from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from forms import BaseForm
from forms.cases import StepForm
from portal.i18n import lazy_text as _l


class RuleForm(BaseForm):
    # Empty until the rule is first saved (the defaults are in force).
    version = HiddenField()
    min_cases = StringField(_l("投诉起数"), render_kw={"inputmode": "numeric"})
    window_days = StringField(_l("统计天数"), render_kw={"inputmode": "numeric"})
    min_branches = StringField(_l("分公司数"), render_kw={"inputmode": "numeric"})


class DecisionForm(StepForm):
    serious = RadioField(_l("是否按严重处理"), choices=[("yes", _l("按严重处理")), ("no", _l("不按严重处理"))],
                         validators=[Optional()])
    note = TextAreaField(_l("说明"), validators=[Optional(), Length(max=2000)])


class CloseForm(StepForm):
    note = TextAreaField(_l("关闭理由"), validators=[Optional(), Length(max=2000)])
