"""Domain errors: operations raise them, the web layer turns them into pages and codes."""
from __future__ import annotations


class DomainError(Exception):
    """A rule was broken; `message` is shown to the user as is (Chinese)."""
    status = 400

    def __init__(self, message: str, field_errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class ValidationError(DomainError):
    status = 400


class PermissionDenied(DomainError):
    status = 403


class Conflict(DomainError):
    """The record changed since the form was loaded, or is no longer in the expected state."""
    status = 409


class AlreadySubmitted(Conflict):
    """The same form was sent again (Back, then submit): `case_number` is the case it made."""

    def __init__(self, message: str, case_number: str):
        super().__init__(message)
        self.case_number = case_number


# A last resort when even the portal's layout cannot be drawn (the database is gone).
_BARE_PAGE = ('<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{code}</title>'
              '<body><h1>{code}</h1><p>{message}</p><p><a href="/">返回我的待办</a></p></body></html>')


def render_error_page(code: int, message: str):
    """The error page in the portal's layout, for every error handler.

    The request may have failed inside a transaction (a unique or foreign-key violation):
    the session is rolled back first, or drawing the layout (which reads the signed-in
    user) would fail too and the visitor would get the server's bare English page."""
    from flask import render_template
    from markupsafe import escape

    from portal.extensions import db
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection must not hide the page
        pass
    try:
        return render_template("errors/error.html", code=code, message=message), code
    except Exception:  # noqa: BLE001
        from flask import current_app
        current_app.logger.exception("error page %s could not be rendered", code)
        return _BARE_PAGE.format(code=code, message=escape(str(message))), code
