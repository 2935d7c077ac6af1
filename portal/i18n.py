"""Locale choice: the user's setting, else a cookie, else Chinese."""
from babel import Locale
from flask import g, has_request_context, request
from flask_babel import force_locale as _force_locale
from flask_babel import get_locale, gettext
from flask_babel.speaklater import LazyString
from flask_login import current_user


# Parsed once: Flask-Babel parses a code string on every request, and Locale.parse scans
# every locale name Babel knows (~2,000 str.lower calls) each time.
_LOCALES = {"zh_CN": Locale.parse("zh_CN"), "en": Locale.parse("en")}


def force_locale(code):
    """flask_babel.force_locale with our parsed locales: given the string "zh_CN", Flask-Babel
    parses it again each time (~0.1 ms; an API create labels its answer about twenty times)."""
    return _force_locale(_LOCALES.get(code, code) if isinstance(code, str) else code)


def select_locale() -> Locale:
    if not has_request_context():
        return _LOCALES["zh_CN"]  # jobs and messages: Chinese
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in _LOCALES:
        return _LOCALES[chosen]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in _LOCALES:
        return _LOCALES[current_user.locale]
    return _LOCALES["zh_CN"]


_fixed: dict[tuple[str, str], str] = {}


def locale_code() -> str:
    """"zh_CN" or "en", as Flask-Babel sees it now (force_locale included)."""
    if not has_request_context():
        return "zh_CN"
    # Flask-Babel keeps the locale in force on g; reading it there skips the context and
    # selector walk that get_locale() repeats on every label of a page.
    loc = getattr(getattr(g, "_flask_babel", None), "babel_locale", None) or get_locale()
    return "en" if loc is not None and loc.language == "en" else "zh_CN"


def text(msgid: str, code: str | None = None) -> str:
    """gettext of a fixed string, looked up once per language for the life of the process.

    Lists show the same labels hundreds of times per page; gettext each time cost more
    than the database query. Templates pass the `locale` they were rendered with.
    """
    key = (code or locale_code(), msgid)
    if key not in _fixed:
        _fixed[key] = gettext(msgid)
    return _fixed[key]


def lazy_text(msgid: str) -> LazyString:
    """lazy_gettext of a fixed string through `text`: the forms' labels, placeholders and
    messages. Flask-Babel's own lazy string walks its context on every use (~50 calls), and
    a case page's panels read about thirty of them."""
    return LazyString(text, msgid)
