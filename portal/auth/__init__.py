"""Login, logout, password change, throttling and session timeout."""
from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")


def init_login(app, login) -> None:
    from portal.auth.session import load_user, unauthorized, enforce_idle_timeout
    login.init_app(app)
    login.login_view = "auth.login"
    login.session_protection = "basic"
    login.user_loader(load_user)
    login.unauthorized_handler(unauthorized)
    app.before_request(enforce_idle_timeout)


from portal.auth import routes  # noqa: E402,F401
