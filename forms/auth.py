"""Login and password forms."""
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from forms import BaseForm
from portal.i18n import lazy_text as _l


class LoginForm(BaseForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请输入用户名")), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码")), Length(max=128)])


class ChangePasswordForm(BaseForm):
    current = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入当前密码"))])
    new = PasswordField(_l("新密码"), validators=[DataRequired(_l("请输入新密码")),
                                                Length(min=8, max=128, message=_l("新密码至少 8 位"))])
    confirm = PasswordField(_l("确认新密码"), validators=[EqualTo("new", _l("两次输入的新密码不一致"))])
