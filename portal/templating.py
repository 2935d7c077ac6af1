"""Template filters and globals (cheap formatting: lists render hundreds of these)."""
from __future__ import annotations

from flask import current_app, g, render_template, request
from flask_babel import get_locale, get_translations
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_context
from markupsafe import Markup

from portal import clock
from portal.cases.models import mask_phone
from portal.i18n import locale_code


def _iso(value) -> str:
    return clock.as_utc(value).isoformat() if value else ""


_by_language: dict = {}


def _translations():
    """The request's catalog, found in two attribute reads.

    A list page calls gettext ~50 times; Flask-Babel's own path walks its context, domain
    and cache each time. Keyed by the locale in force, so `force_locale` still works."""
    try:
        loc = g._flask_babel.babel_locale
    except (AttributeError, RuntimeError):  # before the first get_locale(), or no app context
        loc = get_locale()
    if loc is None:
        return get_translations()
    key = (loc.language, loc.territory)
    tr = _by_language.get(key)
    if tr is None:
        tr = _by_language[key] = get_translations()
    return tr


# `_('…')` without placeholders, as a page shows it: per catalog, escaping and msgid.
_plain: dict[tuple, str] = {}


@pass_context
def _gettext(ctx, msgid: str, **variables) -> str:
    """`_()` and `gettext()` of the templates, as Jinja's newstyle gettext answers them (the
    text marked safe under autoescape, then always formatted with its variables), without its
    two indirections; a text without variables is kept once made. A list page asks ~50 times."""
    tr = _translations()
    escape = ctx.eval_ctx.autoescape
    if variables:
        rv = tr.ugettext(msgid)
        return (Markup(rv) if escape else rv) % variables
    key = (id(tr), escape, msgid)  # catalogs live as long as the process (_by_language)
    rv = _plain.get(key)
    if rv is None:
        rv = tr.ugettext(msgid)
        rv = (Markup(rv) if escape else rv) % {}
        if any(tr is known for known in _by_language.values()):  # not a passing catalog
            _plain[key] = rv
    return rv


# The signed-in header per (reader, what it shows of them, language, page): ~0.3 ms of a
# list page's 3 to draw, and the same for every page a reader opens in a section.
_topbars: dict[tuple, str] = {}
_TOPBARS_MAX = 4096
_CSRF_MARK = "__portal_csrf_token__"


def topbar() -> Markup:
    """templates/components/_topbar.html for the signed-in reader. Kept under a key of all it
    reads, so a new name, unit, role or language draws it again; the CSRF token of its logout
    form is the request's own, filled in at each use."""
    user = current_user._get_current_object()
    key = (user.id, user.name, user.unit.name, frozenset(user.roles), locale_code(), request.endpoint,
           request.blueprint, request.script_root, current_app.config.get("BELL_POLL_SECONDS"))
    html = _topbars.get(key)
    if html is None:
        if len(_topbars) >= _TOPBARS_MAX:
            _topbars.clear()
        html = _topbars[key] = render_template("components/_topbar.html", csrf=_CSRF_MARK)
    return Markup(html.replace(_CSRF_MARK, generate_csrf()))


def init_app(app) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True)
    from forms import radio_options
    app.jinja_env.globals.update(_=_gettext, gettext=_gettext, radio_options=radio_options, topbar=topbar)
    app.jinja_env.filters.update(
        dt=clock.fmt,
        dts=lambda v: clock.fmt(v, True),
        iso=_iso,
        mask=mask_phone,
        d=lambda v: v.isoformat() if v else "",
        money=lambda v: f"{v:.2f}" if v is not None else "",
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _globals():
        # Babel says zh_Hans_CN; templates compare against the codes we offer.
        return {"locale": locale_code()}
