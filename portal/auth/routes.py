"""Login, logout and password change pages."""
from urllib.parse import urlsplit

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.auth import ChangePasswordForm, LoginForm
from portal.auth import bp, login as login_flow, session as sessions
from portal.extensions import db
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
    outcome = None
    if form.validate_on_submit():
        outcome = login_flow.attempt(form.username.data, form.password.data, request.remote_addr)
        if outcome.user:
            return redirect(_safe_next(request.args.get("next")))
    resp = make_response(render_template("auth/login.html", form=form,
                                         error=outcome and outcome.message),
                         outcome.status if outcome else 200)
    if outcome and outcome.retry_after:
        resp.headers["Retry-After"] = str(outcome.retry_after)
    return resp


@bp.route("/logout", methods=["POST"])
def logout():
    sessions.end()
    db.session.commit()
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
            db.session.commit()  # set_password ended the user's other sessions; this one stays
            flash(_("密码已修改。"), "success")
            return redirect(url_for("web.home"))
    return render_template("auth/password.html", form=form), (400 if form.errors else 200)
