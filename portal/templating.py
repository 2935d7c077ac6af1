"""Template filters and globals (cheap formatting: lists render hundreds of these)."""
from __future__ import annotations


from portal import clock
from portal.cases.models import mask_phone
from portal.i18n import locale_code


def _iso(value) -> str:
    return clock.as_utc(value).isoformat() if value else ""


def init_app(app) -> None:
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
