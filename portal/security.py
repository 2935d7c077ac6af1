"""HTTP security headers and caching by kind of response.

Everything the portal answers, apart from /static/, is private: case pages, lists, customer
photos and signed PDFs name customers and their phones, so no shared cache (a proxy, a CDN)
may keep them, and the browser keeps only the thumbnails, briefly. Static files are public and
carry their own year-long caching (portal/static_files.py); this module leaves them alone.

The Content-Security-Policy allows scripts, styles, fonts and requests from this site only.
htmx needs nothing more: its config meta in base.html turns off the indicator <style> it
would inject and its eval (hx-on, js: values, trigger filters, none of which we use)."""
from __future__ import annotations

from flask import current_app, request

# Photo renditions shown on case pages and lists: the same browser may reuse them for a few
# minutes (a rep flicking between cases), a shared cache never.
RENDITION_CACHE = "private, max-age=300"
PRIVATE = "private, no-store"
RENDITION_ENDPOINTS = {"cases.staged_thumb"}
RENDITION_VARIANTS = {"thumb", "preview"}

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",  # blob: the intake form previews photos before they are sent
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])


def _is_rendition() -> bool:
    if request.endpoint in RENDITION_ENDPOINTS:
        return True
    return request.endpoint == "cases.file" and (request.view_args or {}).get("variant") in RENDITION_VARIANTS


def _is_static() -> bool:
    static = current_app.static_url_path or "/static"
    return request.endpoint == "static" or request.path.startswith(static.rstrip("/") + "/")


def _headers(resp):
    h = resp.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "SAMEORIGIN")
    if resp.mimetype == "text/html":
        h.setdefault("Content-Security-Policy", current_app.config["CONTENT_SECURITY_POLICY"])
    if _is_static():
        return resp
    # Set here, by kind, whatever a view asked for (send_file's max_age means public).
    h["Cache-Control"] = RENDITION_CACHE if _is_rendition() and resp.status_code in (200, 304) else PRIVATE
    h.pop("Expires", None)
    return resp


def init_app(app) -> None:
    app.config.setdefault("CONTENT_SECURITY_POLICY", CONTENT_SECURITY_POLICY)
    app.after_request(_headers)
