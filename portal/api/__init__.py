"""The intake API (issue 14): JSON over HTTPS under /api/v1/, one token per integration.

No session, no cookies, no CSRF (a bearer token is not sent by a browser on its own);
every answer, errors included (404, 405, 413, 500 under /api/ too), is JSON."""
from __future__ import annotations

from flask import Blueprint, request
from werkzeug.exceptions import HTTPException

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from portal.api import routes  # noqa: E402,F401

_HTTP_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_failed", 429: "rate_limited",
               500: "internal_error", 503: "unavailable"}


def is_api_request() -> bool:
    path = request.path
    return (path == "/api" or path.startswith("/api/")) and not path.startswith("/api/docs")


def _json_error(exc):
    from portal.api.errors import ApiError, response
    if isinstance(exc, ApiError):
        return response(exc)
    status = getattr(exc, "code", None) if isinstance(exc, HTTPException) else 500
    code = _HTTP_CODES.get(status or 500, "internal_error")
    err = ApiError(code, status=status or 500)
    if isinstance(exc, HTTPException) and exc.code == 405 and getattr(exc, "valid_methods", None):
        err.headers["Allow"] = ", ".join(exc.valid_methods)
    if status == 500 or not isinstance(exc, HTTPException):
        try:
            from portal.extensions import db
            db.session.rollback()
        except Exception:  # noqa: BLE001
            pass
    resp = response(err)
    if request.blueprint == "api":
        from portal.api.routes import log_call
        try:
            log_call(resp)
        except Exception:  # noqa: BLE001
            pass
    return resp


def init_app(app) -> None:
    """Register the blueprint, CSRF-exempt, and make the app's error pages JSON under /api/."""
    from portal.api.errors import ApiError
    from portal.extensions import csrf
    csrf.exempt(bp)
    # JSON answers carry Chinese as UTF-8 (readable in curl, half the bytes of \uXXXX escapes).
    app.json.ensure_ascii = False
    app.register_blueprint(bp)
    app.register_error_handler(ApiError, _json_error)
    # The portal's HTML error handlers (portal/web.py) stay for every other path.
    for code, handlers in list(app.error_handler_spec[None].items()):
        for exc_class, handler in list(handlers.items()):
            handlers[exc_class] = _wrap(handler)
    if HTTPException not in app.error_handler_spec[None][None]:
        app.register_error_handler(HTTPException, _wrap(lambda e: e))


def _wrap(handler):
    def wrapped(exc):
        if is_api_request():
            return _json_error(exc)
        return handler(exc)
    wrapped.__name__ = getattr(handler, "__name__", "passthrough")
    return wrapped
