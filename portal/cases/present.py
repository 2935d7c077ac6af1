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


try:  # markupsafe's C escaper without the Markup it wraps each result in (the rows escape ~350 texts)
    from markupsafe._speedups import _escape_inner
except ImportError:  # pragma: no cover - pure-Python markupsafe
    from markupsafe._native import _escape_inner


def _esc(value) -> str:
    """str(escape(value)): the same text (None -> "None", Markup kept as it is), for a plain
    str without making a Markup object first."""
    return _escape_inner(value) if value.__class__ is str else str(escape(value))


class _Pieces(dict):
    """One kind of row piece for one language: member -> HTML, drawn on first use."""

    def __init__(self, kind: str, code: str):
        super().__init__()
        self.kind, self.code = kind, code

    def __missing__(self, member):
        html = self[member] = _piece(self.kind, member, self.code)
        return html


_pieces_by_code: dict[str, tuple] = {}
# countdown() per (minutes left, language): a page's rows share a handful of values.
_countdowns: dict[tuple, tuple[str, str]] = {}


@pass_context
def case_rows(ctx, rows, case_url: str) -> Markup:
    """The <tr> rows of the case list (cases/_results.html), written here rather than in Jinja.

    A page of 50 rows is ~1,000 template outputs, each escaped and wrapped in Markup; drawn
    here, only the stored texts are escaped (labels and pills once per process), and the list
    and its htmx fragment cost about half the CPU per request. The cells are those the
    template had (and `due` draws), byte for byte. Each row is unpacked once (a Row's
    attribute costs about ten times a local), and the countdown's words are kept per
    (minutes left, language)."""
    from portal.cases.models import mask_phone
    code = ctx.get("locale") or locale_code()
    l0, l1, l2, l3, l4, l_hq = (escape(text(m, code)) for m in ("受理", "状态", "顾客", "产品", "时限", "总部"))
    pieces = _pieces_by_code.get(code)
    if pieces is None:
        pieces = _pieces_by_code[code] = tuple(_Pieces(k, code) for k in ("state", "klass", "level", "step"))
    states, klasses, levels, steps = pieces
    now = clock.utcnow()
    tz = clock.SHANGHAI
    as_utc = clock.as_utc
    floor = math.floor
    countdowns = _countdowns
    esc = _esc
    out = []
    for (_id, number, received_at, state, klass, customer_name, customer_phone, product_name, batch_no,
         due_at, step, ladder_level, branch_name) in rows:
        number = esc(number)
        batch = f' <small class="muted">{esc(batch_no)}</small>' if batch_no else ""
        if step:
            if due_at is None:
                when = ""
            else:
                at = as_utc(due_at)
                # as due(): Math.round((due - now) / 60000) in portal.js, halves up
                left = floor((at - now).total_seconds() / 60 + 0.5)
                words = countdowns.get((left, code))
                if words is None:
                    if len(countdowns) > 20000:
                        countdowns.clear()
                    words = countdowns[(left, code)] = countdown(left, code)
                when = (f'<span class="due{words[1]}" data-due="{at.isoformat()}" '
                        f'title="{str(at.astimezone(tz))[:16]}">{esc(words[0])}</span>')
            step = f'{steps[step]} {when}'
        else:
            step = ""
        # str(datetime)[:16] is "YYYY-MM-DD HH:MM", what _minute writes
        received = str(as_utc(received_at).astimezone(tz))[:16] if received_at else ""
        out.append(
            f'    <tr>\n'
            f'      <td class="num"><a href="{case_url}{number}">{number}</a></td>\n'
            f'      <td class="num" data-label="{l0}">{received}</td>\n'
            f'      <td data-label="{l1}">{states[state]} {klasses[klass]} {levels[ladder_level]}</td>\n'
            f'      <td data-label="{l2}">{esc(customer_name)} <small class="muted">'
            f'{esc(mask_phone(customer_phone))}</small></td>\n'
            f'      <td data-label="{l3}">{esc(product_name)}{batch}</td>\n'
            f'      <td class="hide-phone">{esc(branch_name or l_hq)}</td>\n'
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
