"""How a case's state, class, level and time limit look wherever cases are listed.

These run for every row of a 50-row list, so they are plain functions over cached,
per-language labels rather than Jinja macros calling gettext each time.
"""
from __future__ import annotations

import math

from jinja2 import pass_context
from markupsafe import Markup, escape

from portal import clock
from portal.i18n import locale_code, text

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


def countdown(minutes_left: int, code: str | None = None) -> tuple[str, str]:
    """The countdown text and class portal.js's tick() writes, in the same words and rounding
    (剩余 1天2小时 / 剩余 5分 / 已超时 3小时): the first paint already shows it, so the script's
    first tick changes nothing and the line does not re-wrap under the reader (a layout shift)."""
    a = abs(minutes_left)
    d, h, m = a // 1440, (a % 1440) // 60, a % 60
    parts = []
    if d:
        parts.append(text("%(n)s天", code) % {"n": d})
    if h:
        parts.append(text("%(n)s小时", code) % {"n": h})
    if not d:
        parts.append(text("%(n)s分", code) % {"n": m})
    sep = "" if (code or locale_code()) == "zh_CN" else " "
    word = "已超时 %(time)s" if minutes_left < 0 else "剩余 %(time)s"
    cls = " overdue" if minutes_left < 0 else " due-soon" if minutes_left < 60 else ""
    return text(word, code) % {"time": sep.join(parts)}, cls


def _minute(t) -> str:
    """clock.fmt without strftime (twice per row of every list): local time to the minute."""
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"


def due(value, code: str | None = None, now=None) -> Markup:
    """The due time as a countdown, which portal.js keeps live; the exact time is its title."""
    if value is None:
        return Markup("")
    at = clock.as_utc(value)
    # Math.round((due - now) / 60000) in portal.js: halves round up, not to even.
    left = math.floor((at - (now or clock.utcnow())).total_seconds() / 60 + 0.5)
    words, cls = countdown(left, code)
    return Markup(f'<span class="due{cls}" data-due="{at.isoformat()}" '
                  f'title="{_minute(at.astimezone(clock.SHANGHAI))}">{escape(words)}</span>')


# The pieces of a row that depend only on a label and the language, drawn once per process.
_pieces: dict[tuple, str] = {}


def _piece(kind: str, member, code: str) -> str:
    key = (kind, member, code)
    html = _pieces.get(key)
    if html is None:
        if member is None:
            html = ""
        elif kind == "state":
            html = f'<span class="pill state-{member.value}">{escape(text(member._zh, code))}</span>'
        elif kind == "klass":
            html = f'<span class="pill klass-{member.value}">{escape(text(member._zh, code))}</span>'
        elif kind == "step":
            html = f'<small>{escape(text(member._zh, code))}</small>'
        else:  # level
            html = (f'<span class="pill level" title="{escape(text("升级级别", code))}">'
                    f'{escape(text("升级", code))} {int(member)}</span>') if member else ""
        _pieces[key] = html
    return html


@pass_context
def case_rows(ctx, rows, case_url: str) -> Markup:
    """The <tr> rows of the case list (cases/_results.html), written here rather than in Jinja.

    A page of 50 rows is ~1,000 template outputs, each escaped and wrapped in Markup; drawn
    here, only the stored texts are escaped (labels and pills once per process), and the list
    and its htmx fragment cost about half the CPU per request. The cells are those the
    template had."""
    from portal.cases.models import mask_phone
    code = ctx.get("locale") or locale_code()
    l0, l1, l2, l3, l4, l_hq = (escape(text(m, code)) for m in ("受理", "状态", "顾客", "产品", "时限", "总部"))
    now = clock.utcnow()
    tz = clock.SHANGHAI
    as_utc = clock.as_utc
    out = []
    for r in rows:
        number = escape(r.number)
        batch = f' <small class="muted">{escape(r.batch_no)}</small>' if r.batch_no else ""
        step = f'{_piece("step", r.step, code)} {due(r.due_at, code, now)}' if r.step else ""
        received = _minute(as_utc(r.received_at).astimezone(tz)) if r.received_at else ""
        out.append(
            f'    <tr>\n'
            f'      <td class="num"><a href="{case_url}{number}">{number}</a></td>\n'
            f'      <td class="num" data-label="{l0}">{received}</td>\n'
            f'      <td data-label="{l1}">{_piece("state", r.state, code)} {_piece("klass", r.klass, code)} '
            f'{_piece("level", r.ladder_level, code)}</td>\n'
            f'      <td data-label="{l2}">{escape(r.customer_name)} <small class="muted">'
            f'{escape(mask_phone(r.customer_phone))}</small></td>\n'
            f'      <td data-label="{l3}">{escape(r.product_name)}{batch}</td>\n'
            f'      <td class="hide-phone">{escape(r.branch_name or l_hq)}</td>\n'
            f'      <td data-label="{l4}">{step}</td>\n'
            f'    </tr>\n')
    return Markup("".join(out))


def options(choices, selected) -> Markup:
    """The <option>s of a filter's <select>, as the list's template wrote them (each was three
    escaped outputs and a test in Jinja; the full list page draws some forty)."""
    return Markup("".join(f'<option value="{escape(value)}" {"selected" if value == selected else ""}>'
                          f'{escape(text)}</option>' for value, text in choices))


def init_app(app) -> None:
    app.jinja_env.filters.update(state_pill=state_pill, klass_pill=klass_pill,
                                 level_pill=level_pill, due=due, label=label)
    app.jinja_env.globals.update(t=t, case_rows=case_rows, options=options)
