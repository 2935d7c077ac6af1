"""Forms of the complaint: intake and each workflow step (validation messages in Chinese)."""
from wtforms import (BooleanField, DateField, DecimalField, HiddenField, IntegerField,
                     MultipleFileField, PasswordField, RadioField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import (DataRequired, InputRequired, Length, NumberRange, Optional,
                                Regexp)

from forms import BaseForm
from portal.enums import (Channel, CustomerType, Kind, Klass, Responsibility, SettlementForm,
                          Validity)

PHONE = Regexp(r"^\+?[0-9][0-9 \-]{4,19}$", message="请输入正确的电话号码（数字，可含 - 和空格）")
BATCH = Regexp(r"^[A-Za-z0-9\-_/.]{1,40}$", message="批号只能包含字母、数字和 - _ / . 符号")
REQUIRED = "此项为必填项"


def _choices(enum_cls, blank="请选择"):
    return [("", blank)] + enum_cls.choices()


class IntakeForm(BaseForm):
    channel = SelectField("受理渠道", validators=[Optional()])
    branch_id = SelectField("所属分公司", validators=[Optional()])
    customer_name = StringField("顾客姓名", validators=[DataRequired(REQUIRED), Length(max=60)])
    customer_phone = StringField("联系电话", validators=[DataRequired(REQUIRED), PHONE])
    customer_type = SelectField("顾客类型", validators=[Optional()])
    customer_address = StringField("地址", validators=[Optional(), Length(max=200)])
    region = StringField("地区", validators=[Optional(), Length(max=60)])
    product_id = HiddenField()
    product_name = StringField("产品", validators=[DataRequired("请从产品目录中选择或输入产品"), Length(max=100)])
    product_spec = StringField("规格", validators=[Optional(), Length(max=100)])
    batch_no = StringField("生产批号", validators=[Optional(), BATCH])
    production_date = DateField("生产日期", validators=[Optional()])
    quantity = IntegerField("涉及数量", validators=[Optional(), NumberRange(0, 1_000_000, "数量须在 0 到 1000000 之间")])
    purchase_place = StringField("购买地点", validators=[Optional(), Length(max=200)])
    purchase_date = DateField("购买日期", validators=[Optional()])
    description = TextAreaField("问题描述", validators=[DataRequired("请描述顾客反映的问题"), Length(max=4000)])
    demand = TextAreaField("顾客诉求", validators=[Optional(), Length(max=2000)])
    urgent = BooleanField("紧急")
    threatens_media = BooleanField("顾客声称将向职能部门或媒体反映")
    photos = MultipleFileField("照片和文件")

    def __init__(self, *args, desk: bool = False, branches=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.channel.choices = [(c.value, c.label) for c in Channel if c != Channel.FIELD] if desk else []
        self.branch_id.choices = [("", "总部直接受理")] + [(str(u.id), u.name) for u in branches]
        self.customer_type.choices = CustomerType.choices()

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


class StepForm(BaseForm):
    version = HiddenField(validators=[DataRequired()])


class VerifyForm(StepForm):
    validity = RadioField("核实结论", choices=[(v.value, v.label) for v in Validity if v != Validity.PENDING],
                          validators=[DataRequired("请选择核实结论")])
    kind = SelectField("投诉性质", choices=_choices(Kind), validators=[Optional()])
    klass = SelectField("投诉类别", choices=_choices(Klass), validators=[Optional()])
    category_id = SelectField("原因分类", validators=[Optional()])
    reason = TextAreaField("说明（不成立时告知顾客的理由）", validators=[Optional(), Length(max=2000)])


class RequestInfoForm(StepForm):
    question = TextAreaField("需要补充的内容", validators=[DataRequired(REQUIRED), Length(max=2000)])


class SupplyInfoForm(StepForm):
    reply = TextAreaField("补充说明", validators=[DataRequired(REQUIRED), Length(max=4000)])
    photos = MultipleFileField("补充照片和文件")


class TraceForm(StepForm):
    pass


class DispatchForm(StepForm):
    unit_id = SelectField("责任部门", validators=[DataRequired("请选择责任部门")])
    user_id = SelectField("经办人（可选）", validators=[Optional()])
    note = TextAreaField("分派说明", validators=[Optional(), Length(max=2000)])


class AcknowledgeForm(StepForm):
    note = TextAreaField("跟进记录", validators=[Optional(), Length(max=2000)])


class ProposeForm(StepForm):
    findings = TextAreaField("调查结果", validators=[DataRequired(REQUIRED), Length(max=4000)])
    root_cause = TextAreaField("原因分析", validators=[DataRequired(REQUIRED), Length(max=4000)])
    responsibility = SelectField("责任认定", choices=_choices(Responsibility),
                                 validators=[DataRequired("请选择责任认定")])
    responsibility_note = StringField("责任部门/人/供应商", validators=[Optional(), Length(max=200)])
    solution_form = SelectField("处理方式", choices=_choices(SettlementForm),
                                validators=[DataRequired("请选择处理方式")])
    solution_text = TextAreaField("处理方案", validators=[DataRequired(REQUIRED), Length(max=4000)])
    product_qty = IntegerField("赔偿产品数量（件）", validators=[Optional(), NumberRange(0, 100_000, "数量须在 0 到 100000 之间")])
    multiple = DecimalField("赔偿倍数 1:N", places=2, validators=[Optional(), NumberRange(0, 100, "倍数须在 0 到 100 之间")])
    cash = DecimalField("现金补偿（元）", places=2, validators=[Optional(), NumberRange(0, 10_000_000, "金额须在 0 到 10000000 之间")])


class DecisionForm(StepForm):
    comment = TextAreaField("批示意见", validators=[Optional(), Length(max=2000)])
    password = PasswordField("登录密码（签名确认）", validators=[DataRequired("签名须输入您的登录密码")])


class ImplementForm(StepForm):
    text = TextAreaField("实施情况", validators=[DataRequired(REQUIRED), Length(max=4000)])
    photos = MultipleFileField("实施凭证照片")


SCORE_CHOICES = [("", "—")] + [(str(i), str(i)) for i in range(5, 0, -1)]


class CallbackForm(StepForm):
    reached = RadioField("是否联系上顾客", choices=[("yes", "已联系上"), ("no", "未联系上")],
                         validators=[InputRequired("请选择是否联系上顾客")])
    satisfied = RadioField("顾客是否满意", choices=[("yes", "满意 / 接受处理结果"), ("no", "不满意")],
                           validators=[Optional()])
    score_quality = SelectField("质量高", choices=SCORE_CHOICES, validators=[Optional()])
    score_speed = SelectField("办理快", choices=SCORE_CHOICES, validators=[Optional()])
    score_attitude = SelectField("态度好", choices=SCORE_CHOICES, validators=[Optional()])
    score_info = SelectField("信息准", choices=SCORE_CHOICES, validators=[Optional()])
    score_safety = SelectField("够安全", choices=SCORE_CHOICES, validators=[Optional()])
    comment = TextAreaField("回访记录（不满意时写明原因）", validators=[Optional(), Length(max=2000)])

    def scores(self) -> dict:
        return {name: int(self[name].data) if (self[name].data or "").isdigit() else None
                for name in ("score_quality", "score_speed", "score_attitude", "score_info", "score_safety")}


class SignOffForm(StepForm):
    comment = TextAreaField("签字意见", validators=[Optional(), Length(max=2000)])
    password = PasswordField("登录密码（签名确认）", validators=[DataRequired("签名须输入您的登录密码")])


class ReopenForm(StepForm):
    reason = TextAreaField("重新打开的原因", validators=[DataRequired(REQUIRED), Length(max=2000)])
