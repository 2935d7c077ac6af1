"""Admin forms: users and organisation units. They check that the form is filled in;
the rules every caller must obey (unique names, no cycles, active units) live in
portal.org.operations."""
from flask_babel import gettext as _
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from forms import BaseForm
from forms.cases import PHONE, REQUIRED
from portal.org.enums import Role, UnitKind
from portal.i18n import lazy_text as _l

EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("请输入正确的电子邮箱"))
INDENT = "\u3000"  # a full-width space keeps the tree readable inside a <select>


def unit_choices(rows, blank: str) -> list[tuple[str, str]]:
    """(unit, depth) pairs from unit_tree().ordered() as indented select options."""
    return [("", blank)] + [
        (str(u.id), INDENT * depth + (u.name if u.active else _("%(name)s（已停用）", name=u.name)))
        for u, depth in rows]


def _at_least_one(form, field):
    # Not DataRequired: its "required" flag would be put on every checkbox.
    if not field.data:
        raise StopValidation(_("请至少选择一个角色"))


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as checkboxes (roles): easier on a phone than a multi-select."""
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(BaseForm):
    name = StringField(_l("姓名"), validators=[DataRequired(REQUIRED), Length(max=64)])
    # Units come and go: the operation explains a stale choice better than "not a valid choice".
    unit_id = SelectField(_l("所属机构"), validate_choice=False, validators=[DataRequired(_l("请选择所属机构"))])
    roles = CheckboxesField(_l("角色"), choices=Role.choices, validators=[_at_least_one])
    title = StringField(_l("职务"), validators=[Optional(), Length(max=64)])
    phone = StringField(_l("手机"), validators=[Optional(), PHONE, Length(max=32)])
    email = StringField(_l("电子邮箱"), validators=[Optional(), EMAIL, Length(max=128)])
    password = PasswordField(_l("重设密码"), validators=[Optional(), Length(max=128)])

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_id.choices = unit_choices(units, _("请选择"))

    def user_data(self) -> dict:
        return {name: self[name].data for name in
                ("username", "name", "unit_id", "roles", "title", "phone", "email", "password")
                if name in self}


class NewUserForm(UserForm):
    # ':' is kept for service accounts (svc:api:1, portal/org/service.py): no staff name can look like one.
    username = StringField(_l("用户名"), validators=[DataRequired(REQUIRED), Length(max=64),
                                                    Regexp(r"^[^:]*$", message=_l("用户名不能包含冒号（:）"))])
    password = PasswordField(_l("初始密码"), validators=[DataRequired(REQUIRED), Length(max=128)])


class UnitForm(BaseForm):
    name = StringField(_l("机构名称"), validators=[DataRequired(REQUIRED), Length(max=100)])
    code = StringField(_l("编码"), validators=[DataRequired(REQUIRED), Length(max=32)])
    kind = SelectField(_l("类型"), choices=UnitKind.choices, validators=[DataRequired(REQUIRED)])
    # Likewise: a stale or crafted parent reaches the operation, which explains the cycle.
    parent_id = SelectField(_l("上级机构"), validate_choice=False, validators=[Optional()])

    def __init__(self, *args, parents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.parent_id.choices = unit_choices(parents, _("（无：公司根机构）"))

    def unit_data(self) -> dict:
        return {name: self[name].data for name in ("name", "code", "kind", "parent_id")}
