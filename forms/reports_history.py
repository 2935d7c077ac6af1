"""Forms of the history and production volume pages: they carry what was typed; the rules
are portal/reports/history.py's and volumes.py's, which the imports apply too."""
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from forms import BaseForm
from forms.cases import REQUIRED
from portal.reports.history import LedgerSource
from portal.i18n import lazy_text as _l


class LedgerImportForm(BaseForm):
    source = RadioField(_l("文件内容"), choices=LedgerSource.choices, default=LedgerSource.COUNTS.value,
                        validators=[DataRequired(REQUIRED)])
    file = FileField(_l("文件（.csv 或 .xlsx）"))


class VolumeForm(BaseForm):
    version = HiddenField()
    product_id = SelectField(_l("产品"), validate_choice=False, validators=[DataRequired(_l("请选择产品"))])
    month = StringField(_l("月份"), validators=[DataRequired(REQUIRED), Length(max=20)])
    units = StringField(_l("生产数量（件）"), validators=[Length(max=20)])


class VolumeImportForm(BaseForm):
    file = FileField(_l("文件（.csv 或 .xlsx）"))
