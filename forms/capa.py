"""Forms of the corrective-action sheet: issue, respond, the leader's decision, verification.

Each form turns its request data into its operation's arguments itself (`arguments()`), so
the panels module only pairs a form with an operation."""
import re
import secrets

from flask_babel import gettext as _
from wtforms import (DateField, HiddenField, IntegerField, MultipleFileField, PasswordField,
                     RadioField, SelectField, StringField, TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from forms import BaseForm
from forms.cases import BATCH, INTAKE_KEY, REQUIRED, StepForm
from portal.capa.states import MAX_WHYS, Layout
from portal.i18n import lazy_text as _l



def _password():
    return PasswordField(_l("登录密码（签名确认）"), validators=[DataRequired(_l("签名须输入您的登录密码"))])


CONTAINMENT_ROWS = 3


def _text(field) -> str | None:
    return (field.data or "").strip() or None


def _id(value) -> int | None:
    return int(value) if (value or "").isdigit() else None


class IssueForm(BaseForm):
    case_numbers = TextAreaField(_l("涉及投诉编号（每行一个，或以逗号分隔）"), validators=[Optional(), Length(max=4000)])
    batch_no = StringField(_l("生产批号"), validators=[Optional(), BATCH])
    cluster = HiddenField()
    # Drawn with the form (forms.cases.IntakeForm does the same): a second send is recognised.
    issue_key = HiddenField()
    receiving_unit_id = SelectField(_l("接收部门"), validators=[DataRequired(_l("请选择接收部门"))])
    layout = RadioField(_l("格式"), choices=lambda: Layout.choices(), default=Layout.STANDARD.value,
                        validators=[DataRequired(_l("请选择格式"))])
    nonconformity = TextAreaField(_l("不合格描述"), validators=[DataRequired(REQUIRED), Length(max=4000)])
    password = _password()

    def draw_key(self) -> None:
        self.issue_key.data = secrets.token_urlsafe(24)

    def arguments(self) -> dict:
        key = self.issue_key.data or ""
        numbers = [n for n in re.split(r"[\s,，、;；]+", self.case_numbers.data or "") if n]
        return {"receiving_unit_id": _id(self.receiving_unit_id.data),
                "nonconformity": _text(self.nonconformity), "case_numbers": numbers,
                "batch_no": _text(self.batch_no), "cluster_id": _id(self.cluster.data),
                "layout": Layout.get(self.layout.data) or Layout.STANDARD,
                "password": self.password.data,
                "issue_key": key if INTAKE_KEY.fullmatch(key) else None}


class RespondForm(StepForm):
    investigation = TextAreaField(_l("调查情况（当日生产记录）"), validators=[DataRequired(REQUIRED), Length(max=4000)])
    why_1 = StringField(_l("为什么 1"), validators=[Optional(), Length(max=500)])
    why_2 = StringField(_l("为什么 2"), validators=[Optional(), Length(max=500)])
    why_3 = StringField(_l("为什么 3"), validators=[Optional(), Length(max=500)])
    why_4 = StringField(_l("为什么 4"), validators=[Optional(), Length(max=500)])
    why_5 = StringField(_l("为什么 5"), validators=[Optional(), Length(max=500)])
    correction = TextAreaField(_l("纠正措施"), validators=[DataRequired(REQUIRED), Length(max=4000)])
    prevention = TextAreaField(_l("预防措施"), validators=[DataRequired(REQUIRED), Length(max=4000)])
    owner_id = SelectField(_l("责任人"), validators=[DataRequired(_l("请选择责任人"))])
    due_date = DateField(_l("完成日期"), validators=[DataRequired(_l("请填写完成日期"))])
    photos = MultipleFileField(_l("证据照片（可选）"))
    # 8D only
    team = TextAreaField(_l("D1 小组成员（每行一人：姓名 职责）"), validators=[Optional(), Length(max=2000)])
    root_cause_occurrence = TextAreaField(_l("D4 发生原因"), validators=[Optional(), Length(max=2000)])
    root_cause_escape = TextAreaField(_l("D4 流出原因"), validators=[Optional(), Length(max=2000)])
    c1_location = StringField(_l("地点"), validators=[Optional(), Length(max=100)])
    c1_qty = IntegerField(_l("可疑数量"), validators=[Optional(), NumberRange(0, 10_000_000)])
    c1_action = StringField(_l("围堵措施"), validators=[Optional(), Length(max=200)])
    c2_location = StringField(_l("地点"), validators=[Optional(), Length(max=100)])
    c2_qty = IntegerField(_l("可疑数量"), validators=[Optional(), NumberRange(0, 10_000_000)])
    c2_action = StringField(_l("围堵措施"), validators=[Optional(), Length(max=200)])
    c3_location = StringField(_l("地点"), validators=[Optional(), Length(max=100)])
    c3_qty = IntegerField(_l("可疑数量"), validators=[Optional(), NumberRange(0, 10_000_000)])
    c3_action = StringField(_l("围堵措施"), validators=[Optional(), Length(max=200)])

    def whys(self) -> list[str | None]:
        return [self[f"why_{i}"].data for i in range(1, MAX_WHYS + 1)]

    def containment_rows(self):
        return [(self[f"c{i}_location"], self[f"c{i}_qty"], self[f"c{i}_action"])
                for i in range(1, CONTAINMENT_ROWS + 1)]

    def eight_d(self) -> dict:
        team = []
        for line in (self.team.data or "").splitlines():
            name, _sep, duty = line.strip().partition(" ")
            if name:
                team.append({"name": name, "role": duty.strip()})
        return {"team": team,
                "containment": [{"location": (loc.data or "").strip(), "suspect_qty": qty.data,
                                 "action": (act.data or "").strip()}
                                for loc, qty, act in self.containment_rows()],
                "root_cause_occurrence": _text(self.root_cause_occurrence),
                "root_cause_escape": _text(self.root_cause_escape)}

    def arguments(self) -> dict:
        return {"investigation": _text(self.investigation), "whys": self.whys(),
                "correction": _text(self.correction), "prevention": _text(self.prevention),
                "owner_id": _id(self.owner_id.data), "due_date": self.due_date.data,
                "eight_d": self.eight_d()}


class DecisionForm(StepForm):
    comment = TextAreaField(_l("意见（退回时必填）"), validators=[Optional(), Length(max=2000)])
    password = _password()

    def arguments(self) -> dict:
        return {"password": self.password.data, "comment": _text(self.comment)}


class VerifyForm(StepForm):
    effective = RadioField(_l("验证结论"), choices=lambda: [("yes", _("有效")), ("no", _("无效，退回整改"))],
                           validators=[DataRequired(_l("请选择验证结论"))])
    evidence = TextAreaField(_l("验证依据"), validators=[DataRequired(REQUIRED), Length(max=4000)])
    verified_on = DateField(_l("验证日期"), validators=[DataRequired(_l("请填写验证日期"))])
    reason = TextAreaField(_l("退回原因（无效时必填）"), validators=[Optional(), Length(max=2000)])
    closure_note = TextAreaField(_l("D8 结案与表彰（8D）"), validators=[Optional(), Length(max=2000)])
    photos = MultipleFileField(_l("验证照片（可选）"))
    password = _password()

    def arguments(self) -> dict:
        return {"password": self.password.data,
                "effective": {"yes": True, "no": False}.get(self.effective.data),
                "evidence": _text(self.evidence), "verified_on": self.verified_on.data,
                "reason": _text(self.reason), "closure_note": _text(self.closure_note)}
