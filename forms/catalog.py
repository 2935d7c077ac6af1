"""Forms of the product and batch register. They carry what was typed; the rules (formats,
ranges, unique codes, active products and departments) live in portal/catalog/rules.py and
portal/catalog/operations.py, which the spreadsheet import applies too."""
from flask_babel import gettext as _
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from forms import BaseForm
from forms.cases import REQUIRED
from portal.catalog.models import ImportKind
from portal.i18n import lazy_text as _l


class ProductForm(BaseForm):
    version = HiddenField()
    code = StringField(_l("产品编码"), validators=[DataRequired(REQUIRED), Length(max=32)])
    name = StringField(_l("产品名称"), validators=[DataRequired(REQUIRED), Length(max=100)])
    spec = StringField(_l("规格"), validators=[Optional(), Length(max=100)])
    unit_price = StringField(_l("单价（元）"), validators=[Optional(), Length(max=20)])

    def product_data(self) -> dict:
        return {name: self[name].data for name in ("code", "name", "spec", "unit_price")}


class BatchForm(BaseForm):
    version = HiddenField()
    batch_no = StringField(_l("批号"), validators=[DataRequired(REQUIRED), Length(max=60)])
    # Products and departments come and go: the operation explains a stale choice.
    product_id = SelectField(_l("产品"), validate_choice=False, validators=[DataRequired(_l("请选择产品"))])
    production_date = StringField(_l("生产日期"), validators=[DataRequired(REQUIRED), Length(max=20)])
    production_unit_id = SelectField(_l("生产部门"), validate_choice=False,
                                     validators=[DataRequired(_l("请选择生产部门"))])
    line = StringField(_l("生产线"), validators=[Optional(), Length(max=40)])
    shift = StringField(_l("班次"), validators=[Optional(), Length(max=20)])
    quantity = StringField(_l("生产数量"), validators=[Optional(), Length(max=20)])
    shipped_regions = TextAreaField(_l("发往地区"), validators=[Optional(), Length(max=4000)])

    def __init__(self, *args, products=(), units=(), **kwargs):
        super().__init__(*args, **kwargs)
        inactive = _("（已停用）")
        self.product_id.choices = [("", _("请选择"))] + [
            (str(p.id), f"{p.code} {p.display}" + ("" if p.active else inactive)) for p in products]
        self.production_unit_id.choices = [("", _("请选择"))] + [
            (str(u.id), u.name + ("" if u.active else inactive)) for u in units]

    def batch_data(self) -> dict:
        return {name: self[name].data for name in
                ("batch_no", "product_id", "production_date", "production_unit_id", "line", "shift",
                 "quantity", "shipped_regions")}


class ImportForm(BaseForm):
    kind = RadioField(_l("导入内容"), choices=ImportKind.choices, default=ImportKind.BATCHES.value,
                      validators=[DataRequired(REQUIRED)])
    file = FileField(_l("文件（.csv 或 .xlsx）"))
