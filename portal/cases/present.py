"""How a case's state, class, level and time limit look wherever cases are listed.

These run for every row of a 50-row list, so they are plain functions over cached,
per-language labels rather than Jinja macros calling gettext each time.
"""
from __future__ import annotations

from jinja2 import pass_context
from markupsafe import Markup, escape

from portal import clock
from portal.i18n import text

# Filters read the page's language from the template context (computed once per render)
# instead of asking Flask-Babel for every row.

@pass_context
def label(ctx, member) -> str:
    return text(member._zh, ctx.get("locale")) if member is not None else ""


@pass_context
def t(ctx, msgid: str) -> str:
    return text(msgid, ctx.get("locale"))


@pass_context
def state_pill(ctx, state) -> Markup:
    return Markup(f'<span class="pill state-{state.value}">{escape(label(ctx, state))}</span>')


@pass_context
def klass_pill(ctx, klass) -> Markup:
    if klass is None:
        return Markup("")
    return Markup(f'<span class="pill klass-{klass.value}">{escape(label(ctx, klass))}</span>')


@pass_context
def level_pill(ctx, level: int | None) -> Markup:
    if not level:
        return Markup("")
    code = ctx.get("locale")
    return Markup(f'<span class="pill level" title="{escape(text("升级级别", code))}">'
                  f'{escape(text("升级", code))} {int(level)}</span>')


def due(value) -> Markup:
    """The due time, which portal.js turns into a live countdown."""
    if value is None:
        return Markup("")
    shown = clock.fmt(value)
    return Markup(f'<span class="due" data-due="{clock.as_utc(value).isoformat()}" title="{shown}">{shown}</span>')


def init_app(app) -> None:
    app.jinja_env.filters.update(state_pill=state_pill, klass_pill=klass_pill,
                                 level_pill=level_pill, due=due, label=label)
    app.jinja_env.globals.update(t=t)
