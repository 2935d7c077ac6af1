"""Admin forms for the cause tree and the compensation rules. They carry what was typed; the
rules (two levels, unique names and codes, amounts in range, one rule per class and cause)
are checked by portal.cases.reference, which says what is wrong beside each field."""
from flask_babel import gettext as _
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from forms import BaseForm
from forms.cases import REQUIRED
from portal.cases.enums import Klass
from portal.cases.models import Approver
from portal.i18n import lazy_text as _l


class CategoryForm(BaseForm):
    name = StringField(_l("分类名称"), validators=[DataRequired(REQUIRED), Length(max=60)])
    # Stale or crafted choices reach the operation, which explains what is wrong with them.
    parent_id = SelectField(_l("上级分类"), validate_choice=False, validators=[Optional()])
    sort = StringField(_l("排序号"), default="0", render_kw={"inputmode": "numeric"})
    seen = HiddenField()  # the record as the form was drawn (portal.cases.reference.snapshot)

    def __init__(self, *args, parents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.parent_id.choices = [("", _("（无：一级分类）"))] + [
            (str(c.id), c.name if c.active else _("%(name)s（已停用）", name=c.name)) for c in parents]

    def category_data(self) -> dict:
        return {name: self[name].data for name in ("code", "name", "parent_id", "sort") if name in self}


class NewCategoryForm(CategoryForm):
    code = StringField(_l("编码"), validators=[DataRequired(REQUIRED), Length(max=19)])


class RuleForm(BaseForm):
    klass = SelectField(_l("投诉类别"), validators=[DataRequired(REQUIRED)])
    category_id = SelectField(_l("原因分类"), validate_choice=False, validators=[Optional()])
    max_multiple = StringField(_l("产品赔偿倍数上限（1:N）"), render_kw={"inputmode": "decimal"})
    max_cash = StringField(_l("现金补偿上限（元）"), render_kw={"inputmode": "decimal"})
    always_needs_approval = BooleanField(_l("一律须经领导批示"))
    approver = SelectField(_l("超出权限时由谁批示"), choices=Approver.choices)
    note = StringField(_l("说明"), validators=[Optional(), Length(max=200)])
    seen = HiddenField()

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.klass.choices = [("", _("请选择"))] + Klass.choices()
        self.category_id.choices = [("", _("任何原因（该类别的默认规则）"))] + [
            (str(c.id), c.full_name if c.active else _("%(name)s（已停用）", name=c.full_name))
            for c in categories]

    def rule_data(self) -> dict:
        return {name: self[name].data for name in
                ("klass", "category_id", "max_multiple", "max_cash", "always_needs_approval",
                 "approver", "note")}
