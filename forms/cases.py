"""Forms of the complaint: intake and each workflow step.

Labels and messages are lazy strings (portal.i18n.lazy_text); choices built from enums are callables, so they
are labelled in the language of the request that shows the form, not at import."""
import functools
import re
import secrets
from datetime import timezone

from flask_babel import gettext as _
from wtforms import (BooleanField, DateField, DateTimeLocalField, DecimalField, HiddenField, IntegerField,
                     MultipleFileField, PasswordField, RadioField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import (DataRequired, InputRequired, Length, NumberRange, Optional,
                                Regexp, StopValidation)

from forms import BaseForm
from portal.cases.enums import (Channel, CustomerType, Kind, Klass, Responsibility, SettlementForm,
                                Validity)
from portal.clock import SHANGHAI
from portal.i18n import lazy_text as _l, locale_code

PHONE = Regexp(r"^\+?[0-9][0-9 \-]{4,19}$", message=_l("请输入正确的电话号码（数字，可含 - 和空格）"))
BATCH = Regexp(r"^[A-Za-z0-9\-_/.]{1,40}$", message=_l("批号只能包含字母、数字和 - _ / . 符号"))
REQUIRED = _l("此项为必填项")
INTAKE_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def finite_number(form, field) -> None:
    """Decimal() accepts "NaN" and "Infinity"; an amount must be a real number."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation(_l("请输入有效的数字"))


def _choices(enum_cls):
    """A select's options from an enum, with a blank "please choose" first (call per request)."""
    return lambda: [("", _("请选择"))] + enum_cls.choices()


class IntakeForm(BaseForm):
    channel = SelectField(_l("受理渠道"), validators=[Optional()])
    branch_id = SelectField(_l("所属分公司"), validators=[Optional()])
    # Asia/Shanghai wall time as the desk reads it off the letter or mail (desk only).
    received_at = DateTimeLocalField(_l("实际收到时间"), tz=SHANGHAI, validators=[Optional()])
    customer_name = StringField(_l("顾客姓名"), validators=[DataRequired(REQUIRED), Length(max=60)])
    customer_phone = StringField(_l("联系电话"), validators=[DataRequired(REQUIRED), PHONE])
    customer_type = SelectField(_l("顾客类型"), validators=[Optional()])
    customer_address = StringField(_l("地址"), validators=[Optional(), Length(max=200)])
    region = StringField(_l("地区"), validators=[Optional(), Length(max=60)])
    product_id = HiddenField()
    product_name = StringField(_l("产品"), validators=[DataRequired(_l("请从产品目录中选择或输入产品")), Length(max=100)])
    product_spec = StringField(_l("规格"), validators=[Optional(), Length(max=100)])
    batch_no = StringField(_l("生产批号"), validators=[Optional(), BATCH])
    production_date = DateField(_l("生产日期"), validators=[Optional()])
    quantity = IntegerField(_l("涉及数量"), validators=[Optional(), NumberRange(0, 1_000_000, _l("数量须在 0 到 1000000 之间"))])
    purchase_place = StringField(_l("购买地点"), validators=[Optional(), Length(max=200)])
    purchase_date = DateField(_l("购买日期"), validators=[Optional()])
    description = TextAreaField(_l("问题描述"), validators=[DataRequired(_l("请描述顾客反映的问题")), Length(max=4000)])
    demand = TextAreaField(_l("顾客诉求"), validators=[Optional(), Length(max=2000)])
    urgent = BooleanField(_l("紧急"))
    threatens_media = BooleanField(_l("顾客声称将向职能部门或媒体反映"))
    photos = MultipleFileField(_l("照片和文件"))
    # Drawn fresh with each empty form and carried through its error pages: the same form sent
    # again (Back, then submit) has the same key and register_case refuses it.
    intake_key = HiddenField(default=lambda: secrets.token_urlsafe(24))

    def __init__(self, *args, desk: bool = False, branches=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.channel.choices = [(c.value, c.label) for c in Channel if c != Channel.FIELD] if desk else []
        self.branch_id.choices = [("", _("总部直接受理"))] + [(str(u.id), u.name) for u in branches]
        self.customer_type.choices = CustomerType.choices()

    def received_at_utc(self):
        """The typed local time as aware UTC (None when left empty: received now)."""
        value = self.received_at.data
        return value.astimezone(timezone.utc) if value else None

    def submitted_key(self) -> str | None:
        """The key the browser sent back; None if it sent none (an old page) or a malformed one."""
        sent = (self.intake_key.raw_data or [""])[0]
        return sent if INTAKE_KEY.fullmatch(sent) else None

    def data_for_case(self) -> dict:
        from portal.batches.lookup import normalise_batch_no
        d = {name: self[name].data for name in (
            "customer_name", "customer_phone", "customer_address", "region", "product_name",
            "product_spec", "production_date", "quantity", "purchase_place", "purchase_date",
            "description", "demand", "urgent", "threatens_media")}
        for k, v in d.items():
            if isinstance(v, str):
                d[k] = v.strip() or None
        d["customer_type"] = CustomerType.get(self.customer_type.data) or CustomerType.CONSUMER
        d["batch_no"] = normalise_batch_no(self.batch_no.data)
        d["product_id"] = int(self.product_id.data) if (self.product_id.data or "").isdigit() else None
        return d


STALE_PAGE = _l("页面已过期，请刷新后重试")


class StepForm(BaseForm):
    # The record's version when the page was drawn: a stale one is a conflict, not an error.
    version = HiddenField(_l("页面版本"), validators=[DataRequired(STALE_PAGE), Regexp(r"^\d{1,9}$", message=STALE_PAGE)])


@functools.cache
def _validity_choices(_code: str) -> list[tuple[str, str]]:
    """The verdicts, built once per language (the verify panel draws them on every case page)."""
    return [(v.value, v.label) for v in Validity if v != Validity.PENDING]


class VerifyForm(StepForm):
    validity = RadioField(_l("核实结论"),
                          choices=lambda: _validity_choices(locale_code()),
                          validators=[DataRequired(_l("请选择核实结论"))])
    kind = SelectField(_l("投诉性质"), choices=_choices(Kind), validators=[Optional()])
    klass = SelectField(_l("投诉类别"), choices=_choices(Klass), validators=[Optional()])
    category_id = SelectField(_l("原因分类"), validators=[Optional()])
    reason = TextAreaField(_l("说明（不成立时告知顾客的理由）"), validators=[Optional(), Length(max=2000)])


class RequestInfoForm(StepForm):
    question = TextAreaField(_l("需要补充的内容"), validators=[DataRequired(REQUIRED), Length(max=2000)])


class SupplyInfoForm(StepForm):
    reply = TextAreaField(_l("补充说明"), validators=[DataRequired(REQUIRED), Length(max=4000)])
    photos = MultipleFileField(_l("补充照片和文件"))


class TraceForm(StepForm):
    # Filled in only when the batch register does not know the batch: quality decides by hand.
    unit_id = SelectField(_l("生产部门"), validators=[Optional()])
    line = StringField(_l("生产线（可选）"), validators=[Optional(), Length(max=40)])
    reason = TextAreaField(_l("判断依据"), validators=[Optional(), Length(max=1000)])


class DispatchForm(StepForm):
    unit_id = SelectField(_l("责任部门"), validators=[DataRequired(_l("请选择责任部门"))])
    user_id = SelectField(_l("经办人（可选）"), validators=[Optional()])
    note = TextAreaField(_l("分派说明"), validators=[Optional(), Length(max=2000)])


class RedispatchForm(DispatchForm):
    """改派: the same picker as the dispatch, and a reason that goes into the timeline."""
    unit_id = SelectField(_l("改派到"), validators=[DataRequired(_l("请选择改派到的部门"))])
    note = None
    reason = TextAreaField(_l("改派原因"), validators=[DataRequired(REQUIRED), Length(max=2000)])


class AcknowledgeForm(StepForm):
    note = TextAreaField(_l("跟进记录"), validators=[Optional(), Length(max=2000)])


class CompensationFields:
    """The remedy's amounts, shared by the handler's proposal and the rep's settlement."""
    product_qty = IntegerField(_l("赔偿产品数量（件）"), validators=[Optional(), NumberRange(0, 100_000, _l("数量须在 0 到 100000 之间"))])
    multiple = DecimalField(_l("赔偿倍数 1:N"), places=2, validators=[Optional(), finite_number, NumberRange(0, 100, _l("倍数须在 0 到 100 之间"))])
    cash = DecimalField(_l("现金补偿（元）"), places=2, validators=[Optional(), finite_number, NumberRange(0, 10_000_000, _l("金额须在 0 到 10000000 之间"))])


class ProposeForm(StepForm, CompensationFields):
    findings = TextAreaField(_l("调查结果"), validators=[DataRequired(REQUIRED), Length(max=4000)])
    root_cause = TextAreaField(_l("原因分析"), validators=[DataRequired(REQUIRED), Length(max=4000)])
    responsibility = SelectField(_l("责任认定"), choices=_choices(Responsibility),
                                 validators=[DataRequired(_l("请选择责任认定"))])
    responsibility_note = StringField(_l("责任部门/人/供应商"), validators=[Optional(), Length(max=200)])
    solution_form = SelectField(_l("处理方式"), choices=_choices(SettlementForm),
                                validators=[DataRequired(_l("请选择处理方式"))])
    solution_text = TextAreaField(_l("处理方案"), validators=[DataRequired(REQUIRED), Length(max=4000)])


class SettleForm(StepForm, CompensationFields):
    """现场处理: the rep settles within their own authority right after intake."""
    klass = SelectField(_l("投诉类别"), choices=_choices(Klass), validators=[DataRequired(_l("请选择投诉类别"))])
    category_id = SelectField(_l("原因分类"), validators=[DataRequired(_l("请选择原因分类"))])
    solution_form = SelectField(_l("处理方式"), choices=_choices(SettlementForm),
                                validators=[DataRequired(_l("请选择处理方式"))])
    text = TextAreaField(_l("现场处理情况"), validators=[DataRequired(REQUIRED), Length(max=4000)])


class DecisionForm(StepForm):
    comment = TextAreaField(_l("批示意见"), validators=[Optional(), Length(max=2000)])
    password = PasswordField(_l("登录密码（签名确认）"), validators=[DataRequired(_l("签名须输入您的登录密码"))])


class ImplementForm(StepForm):
    text = TextAreaField(_l("实施情况"), validators=[DataRequired(REQUIRED), Length(max=4000)])
    photos = MultipleFileField(_l("实施凭证照片"))


SCORE_CHOICES = [("", "—")] + [(str(i), str(i)) for i in range(5, 0, -1)]


class CallbackForm(StepForm):
    reached = RadioField(_l("是否联系上顾客"),
                         choices=lambda: [("yes", _("已联系上")), ("no", _("未联系上"))],
                         validators=[InputRequired(_l("请选择是否联系上顾客"))])
    satisfied = RadioField(_l("顾客是否满意"),
                           choices=lambda: [("yes", _("满意 / 接受处理结果")), ("no", _("不满意"))],
                           validators=[Optional()])
    score_quality = SelectField(_l("质量高"), choices=SCORE_CHOICES, validators=[Optional()])
    score_speed = SelectField(_l("办理快"), choices=SCORE_CHOICES, validators=[Optional()])
    score_attitude = SelectField(_l("态度好"), choices=SCORE_CHOICES, validators=[Optional()])
    score_info = SelectField(_l("信息准"), choices=SCORE_CHOICES, validators=[Optional()])
    score_safety = SelectField(_l("够安全"), choices=SCORE_CHOICES, validators=[Optional()])
    comment = TextAreaField(_l("回访记录（不满意时写明原因）"), validators=[Optional(), Length(max=2000)])

    def scores(self) -> dict:
        return {name: int(self[name].data) if (self[name].data or "").isdigit() else None
                for name in ("score_quality", "score_speed", "score_attitude", "score_info", "score_safety")}


class SignOffForm(StepForm):
    comment = TextAreaField(_l("签字意见"), validators=[Optional(), Length(max=2000)])
    password = PasswordField(_l("登录密码（签名确认）"), validators=[DataRequired(_l("签名须输入您的登录密码"))])


class ReopenForm(StepForm):
    reason = TextAreaField(_l("重新打开的原因"), validators=[DataRequired(REQUIRED), Length(max=2000)])
