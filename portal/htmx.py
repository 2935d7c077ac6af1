"""One URL serves the page or its fragment; HX response helpers; `Vary: HX-Request`."""
from __future__ import annotations

from flask import make_response, redirect, render_template, request


def is_htmx() -> bool:
    # A history restore wants the whole page, not the fragment.
    return request.headers.get("HX-Request") == "true" and \
        request.headers.get("HX-History-Restore-Request") != "true"


def page_or_partial(page: str, partial: str, status: int = 200, **context):
    """The page includes the partial, so the rows (or the form) are written once."""
    return render_template(partial if is_htmx() else page, **context), status


def redirect_to(url: str):
    """After a successful POST: a client-side redirect for htmx, a 303 otherwise."""
    if is_htmx():
        resp = make_response("", 204)
        resp.headers["HX-Redirect"] = url
        return resp
    return redirect(url, code=303)


def init_app(app) -> None:
    @app.after_request
    def _vary(resp):
        # One merged Vary header: a second one would be dropped when the session adds Cookie.
        resp.vary.add("HX-Request")  # (security headers: portal/security.py)
        return resp
