"""Locale choice: the user's setting, else a cookie, else Chinese."""
from flask import has_request_context, request
from flask_login import current_user


def select_locale() -> str:
    if not has_request_context():
        return "zh_CN"  # jobs and messages: Chinese
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in ("zh_CN", "en"):
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in ("zh_CN", "en"):
        return current_user.locale
    return "zh_CN"
