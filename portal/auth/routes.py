"""Login, logout and password change pages."""
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
import sqlalchemy as sa

from forms.auth import ChangePasswordForm, LoginForm
from portal.auth import bp, throttle
from portal.clock import fmt
from portal.extensions import db
from portal.org.models import User
from portal.signing import audit


def _safe_next(target: str | None) -> str:
    """Only a path on this site: no scheme, no host, nothing a browser would read as one."""
    if (target and target.isprintable() and target.startswith("/")
            and not target.startswith(("//", "/\\")) and not urlsplit(target).netloc
            and not urlsplit(target).scheme):
        return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    error, until = None, None
    if form.validate_on_submit():
        ip = request.remote_addr
        until = throttle.locked_until(form.username.data, ip)
        if until:
            error = _("登录失败次数过多，请于 %(time)s 后再试。", time=fmt(until))
        else:
            user = db.session.execute(
                sa.select(User).where(sa.func.lower(User.username) == form.username.data.strip().lower())).unique().scalar_one_or_none()
            if user and user.active and user.check_password(form.password.data):
                throttle.clear(user.username)
                if user.upgrade_password_hash(form.password.data):
                    db.session.commit()
                login_user(user)
                from flask import session
                session.permanent = True
                return redirect(_safe_next(request.args.get("next")))
            throttle.register_failure(form.username.data, ip)
            until = throttle.locked_until(form.username.data, ip)
            error = (_("登录失败次数过多，请于 %(time)s 后再试。", time=fmt(until)) if until
                     else _("用户名或密码不正确。"))
    status = 429 if until else (401 if error else 200)
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            form.current.errors.append(_("当前密码不正确"))
        else:
            user = current_user._get_current_object()
            user.set_password(form.new.data)
            audit.record("password_changed", actor=user, object_type="user", object_id=user.id)
            db.session.commit()
            login_user(user)  # the new epoch keeps this session, ends the others
            flash(_("密码已修改。"), "success")
            return redirect(url_for("web.home"))
    return render_template("auth/password.html", form=form), (400 if form.errors else 200)
