"""The weekly and monthly summaries and the daily report for leaders (PROCEDURES §10), as
PDFs (pdf_templates/summary_*), and their mailing through the outbox.

A summary counts the cases the reader may see (the case list's own WHERE clauses,
queries.filter_clauses), received in local calendar periods (Asia/Shanghai): a week runs
Monday to Sunday (ISO weeks), a month from its first day. Each file is cached by what it
prints, so leaders who see the same cases share one file, and a period asked for again
is not rendered twice. Mailing is keyed per period and leader in the outbox: a cron job
that runs twice, or a retried job, sends nothing twice.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from portal.i18n import force_locale
from flask_babel import gettext as _

from portal.capa import access as capa_access
from portal.capa.models import CorrectiveAction
from portal.capa.states import SheetState
from portal.cases.enums import Channel, Klass
from portal.cases.models import Case, Category
from portal.cases.queries import OPEN_STATES, CaseFilters, filter_clauses, local_day_start
from portal.cases.states import State
from portal.clock import as_utc, fmt, local, utcnow
from portal.clusters import queries as cluster_queries
from portal.clusters.models import ClusterState
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.notify.outbox import add_message, hand_to_workers
from portal.org.enums import Role
from portal.org.tree import unit_tree
from portal.pdf_cache import cached_pdf
from portal.reports import svg

KINDS = ("weekly", "monthly", "daily")
TITLES = {"weekly": "客诉周报", "monthly": "客诉月报", "daily": "监管抽查与严重投诉日报"}
TOP = 8  # bars per "by …" chart; the rest are one bar 其他
TREND = 8  # periods in the trend chart
OPEN_SERIOUS_ROWS = 30
PDF_FOLDER = "summaries"


@dataclass(frozen=True)
class Period:
    """A local calendar period: start inclusive, end exclusive."""
    kind: str
    start: date
    end: date

    @classmethod
    def containing(cls, kind: str, day: date) -> "Period":
        if kind == "weekly":
            start = day - timedelta(days=day.weekday())
            return cls(kind, start, start + timedelta(days=7))
        if kind == "monthly":
            start = day.replace(day=1)
            return cls(kind, start, (start + timedelta(days=32)).replace(day=1))
        return cls("daily", day, day + timedelta(days=1))

    @classmethod
    def last_complete(cls, kind: str, today: date | None = None) -> "Period":
        """The period that ended most recently: last week, last month, yesterday."""
        today = today or local(utcnow()).date()
        return cls.containing(kind, today).previous()

    @classmethod
    def parse(cls, kind: str, key: str) -> "Period | None":
        """From its key (2026-W48, 2026-11, 2026-11-30); None for anything else."""
        try:
            if kind == "weekly":
                year, week = key.split("-W")
                return cls.containing(kind, date.fromisocalendar(int(year), int(week), 1))
            if kind == "monthly":
                year, month = key.split("-")
                return cls.containing(kind, date(int(year), int(month), 1))
            if kind == "daily":
                return cls.containing(kind, date.fromisoformat(key))
        except ValueError:
            return None
        return None

    @property
    def key(self) -> str:
        if self.kind == "weekly":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "monthly":
            return self.start.strftime("%Y-%m")
        return self.start.isoformat()

    @property
    def label(self) -> str:
        """In the current locale: the PDFs and mails are made under zh_CN, the page in the reader's."""
        last = self.end - timedelta(days=1)
        if self.kind == "weekly":
            year, week, _day = self.start.isocalendar()
            return _("%(year)s年第%(week)s周（%(start)s 至 %(end)s）", year=year, week=week,
                     start=self.start.isoformat(), end=last.isoformat())
        if self.kind == "monthly":
            return _("%(year)s年%(month)s月", year=self.start.year, month=self.start.month)
        return self.start.isoformat()

    def previous(self) -> "Period":
        return Period.containing(self.kind, self.start - timedelta(days=1))

    def last_year(self) -> "Period":
        """The same week number, month or day a year before."""
        if self.kind == "weekly":
            year, week, _ = self.start.isocalendar()
            return Period.containing(self.kind, date.fromisocalendar(year - 1, min(week, 52), 1))
        return Period.containing(self.kind, _year_before(self.start))

    def case_filters(self, **extra) -> CaseFilters:
        return CaseFilters(date_from=self.start.isoformat(),
                           date_to=(self.end - timedelta(days=1)).isoformat(), **extra)


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _bounds(period: Period):
    """The period's UTC instants, for columns other than the case's receipt."""
    return local_day_start(period.start.isoformat()), local_day_start(period.end.isoformat())


# -- Figures ------------------------------------------------------------------------------------

def _count(viewer, f: CaseFilters) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Case)
                              .where(*filter_clauses(viewer, f))).scalar_one()


def _change(now: int, before: int) -> str:
    if not before:
        return "—"
    return f"{(now - before) * 100 / before:+.1f}%"


def _by(viewer, period: Period, column, name_of) -> list[tuple[str, int, int]]:
    """(name, this period, the period before) per name_of(value of `column`), the largest
    first; beyond TOP one row 其他."""
    counts = {}
    for which, p in ((0, period), (1, period.previous())):
        for key, n in db.session.execute(sa.select(column, sa.func.count()).where(
                *filter_clauses(viewer, p.case_filters())).group_by(column)):
            counts.setdefault(name_of(key) if key is not None else "未指定", [0, 0])[which] += n
    rows = sorted(counts.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    out = [(name, now, before) for name, (now, before) in rows[:TOP]]
    if rest := rows[TOP:]:
        out.append(("其他", sum(v[0] for _k, v in rest), sum(v[1] for _k, v in rest)))
    return out


def _category_name():
    """A case carries the leaf category: 质量 › 口味 counts under 质量."""
    cats = {c.id: c for c in db.session.execute(sa.select(Category)).scalars()}
    return lambda cid: cats[cats[cid].parent_id or cid].name


def _case_row(case: Case) -> dict:
    return {"number": case.number, "received_at": fmt(case.received_at),
            "branch": case.branch.name if case.branch else "总部",
            "product": case.product_name, "klass": case.klass.label if case.klass else "",
            "channel": case.channel.label, "state": case.state.label, "due_at": fmt(case.due_at),
            "description": case.description[:80]}


def _cases(viewer, *clauses, f: CaseFilters | None = None, limit=OPEN_SERIOUS_ROWS) -> list[dict]:
    rows = db.session.execute(sa.select(Case).where(*filter_clauses(viewer, f or CaseFilters()), *clauses)
                              .order_by(Case.received_at, Case.id).limit(limit)).scalars()
    return [_case_row(c) for c in rows]


def _attainment(viewer) -> dict:
    """Open cases now, and how many are within their time limit (as the dashboard counts it)."""
    where = filter_clauses(viewer, CaseFilters(state="open"))
    n, late = db.session.execute(sa.select(
        sa.func.count(), sa.func.sum(sa.case((Case.due_at < utcnow(), 1), else_=0))).where(*where)).one()
    late = int(late or 0)
    return {"open": n, "overdue": late, "on_time": f"{(n - late) * 100 / n:.1f}%" if n else "—"}


def _sheets(viewer, period: Period) -> dict:
    """Corrective-action sheets opened and closed in the period (those the reader may see)."""
    start, end = _bounds(period)
    where = [c for c in (capa_access.visible_clause(viewer),) if c is not None]

    def count(column):
        return db.session.execute(sa.select(sa.func.count()).select_from(CorrectiveAction).where(
            *where, column >= start, column < end)).scalar_one()
    opened = db.session.execute(sa.select(CorrectiveAction).where(
        *where, CorrectiveAction.issued_at >= start, CorrectiveAction.issued_at < end)
        .order_by(CorrectiveAction.number).limit(OPEN_SERIOUS_ROWS)).scalars()
    return {"opened": count(CorrectiveAction.issued_at),
            "closed": count(CorrectiveAction.closed_at),
            "open_now": db.session.execute(sa.select(sa.func.count()).select_from(CorrectiveAction).where(
                *where, CorrectiveAction.state != SheetState.CLOSED)).scalar_one(),
            "rows": [{"number": s.number, "receiving_unit": s.receiving_unit.name,
                      "nonconformity": s.nonconformity[:60], "state": s.state.label} for s in opened]}


def _clusters(viewer, period: Period) -> list[dict]:
    """Clusters found in the period or still open, with the cases the reader may see."""
    start, end = _bounds(period)
    return [{"batch_no": row.BatchCluster.batch_no, "state": row.BatchCluster.state.label,
             "opened_at": fmt(row.BatchCluster.opened_at), "cases": row.cases, "branches": row.branches}
            for row in cluster_queries.clusters(viewer, state=None)
            if start <= as_utc(row.BatchCluster.opened_at) < end or row.BatchCluster.state == ClusterState.OPEN]


def _trend(viewer, period: Period):
    periods = [period]
    while len(periods) < TREND:
        periods.insert(0, periods[0].previous())
    now = [_count(viewer, p.case_filters()) for p in periods]
    before = [_count(viewer, p.last_year().case_filters()) for p in periods]
    names = [p.key[5:] if period.kind == "monthly" else p.key.split("-")[1] for p in periods]
    return svg.lines(f"近{TREND}期受理量", names, [("本年", now), ("去年同期", before)])


def summary_context(viewer, period: Period) -> dict:
    """What a weekly or monthly summary prints, for `viewer` (their visible cases)."""
    f = period.case_filters()
    n = _count(viewer, f)
    n_prev = _count(viewer, period.previous().case_filters())
    n_ly = _count(viewer, period.last_year().case_filters())
    closed = _count(viewer, replace(f, state=State.CLOSED.value))
    within48 = _count(viewer, replace(f, within48="1"))
    units = unit_tree().units
    by_category = _by(viewer, period, Case.category_id, _category_name())
    by_branch = _by(viewer, period, Case.branch_id, lambda uid: units[uid].name)
    by_unit = _by(viewer, period, Case.responsible_unit_id, lambda uid: units[uid].name)

    def chart(title, rows):
        return svg.bars(title, [r[0] for r in rows], [("本期", [r[1] for r in rows]),
                                                      ("上期", [r[2] for r in rows])])
    with force_locale("zh_CN"):
        return {
            "company_name": current_app.config["COMPANY_NAME"],
            "title": TITLES[period.kind], "period": period.label, "key": period.key,
            "counts": {"now": n, "previous": n_prev, "last_year": n_ly,
                       "vs_previous": _change(n, n_prev), "vs_last_year": _change(n, n_ly),
                       "previous_label": period.previous().label, "last_year_label": period.last_year().label,
                       "closed": closed, "within48": within48,
                       "within48_rate": f"{within48 * 100 / n:.1f}%" if n else "—"},
            "attainment": _attainment(viewer),
            "by_category": by_category, "by_branch": by_branch, "by_unit": by_unit,
            "charts": [_trend(viewer, period), chart("按原因类别", by_category),
                       chart("按分公司", by_branch), chart("按责任部门", by_unit)],
            "serious": _cases(viewer, Case.klass == Klass.SERIOUS, f=CaseFilters(state="open")),
            "clusters": _clusters(viewer, period),
            "sheets": _sheets(viewer, period),
        }


def daily_context(viewer, period: Period) -> dict:
    """The day's regulator spot checks and serious complaints, and every serious case still open."""
    f = period.case_filters()
    with force_locale("zh_CN"):
        return {
            "company_name": current_app.config["COMPANY_NAME"], "title": TITLES["daily"],
            "period": period.label, "key": period.key,
            "regulator": _cases(viewer, Case.channel == Channel.REGULATOR, f=f, limit=200),
            "serious_today": _cases(viewer, Case.klass == Klass.SERIOUS, f=f, limit=200),
            "serious_open": _cases(viewer, Case.klass == Klass.SERIOUS, Case.state.in_(OPEN_STATES),
                                   limit=200),
        }


def context_for(viewer, period: Period) -> dict:
    return daily_context(viewer, period) if period.kind == "daily" else summary_context(viewer, period)


def pdf_path(viewer, period: Period, context: dict | None = None) -> Path:
    """The cached PDF of the period for `viewer` (its `context` if already built), rendered if missing."""
    return cached_pdf(f"summary_{period.kind}", lambda: context or context_for(viewer, period),
                      folder=PDF_FOLDER, stem=f"{period.kind}-{period.key}")


def has_news(context: dict) -> bool:
    """A daily report is mailed only on a day with a spot check or a serious complaint."""
    return bool(context["regulator"] or context["serious_today"])


# -- Mailing ------------------------------------------------------------------------------------

def mail_to_leaders(kind: str, period: Period | None = None) -> int:
    """Queue the period's PDF (last week, last month, yesterday by default) to every active
    leader with a mail address, each their own view; hand them to the workers after commit.
    The files are rendered first, so the transaction writing the rows is a short one.
    Returns how many mails were queued (0 when already sent)."""
    period = period or Period.last_complete(kind)
    cache = Path(current_app.config["PDF_CACHE_DIR"])
    sent = set(db.session.execute(sa.select(OutboxMessage.key).where(
        OutboxMessage.key.like(f"summary:{kind}:{period.key}:%"))).scalars())
    files = []
    for leader in capa_access.people_with(Role.LEADER):
        key = f"summary:{kind}:{period.key}:{leader.id}:email"
        if not leader.email or key in sent:
            continue  # sent already: not even rendered again
        context = context_for(leader, period)
        if kind == "daily" and not has_news(context):
            continue
        files.append((leader, key, pdf_path(leader, period, context)))
    with force_locale("zh_CN"):
        label = period.label
    page = (current_app.config.get("PORTAL_BASE_URL") or "").rstrip("/") + "/reports/summaries/"
    messages = [add_message(
        key=key, channel="email", recipient=leader, subject=f"【{TITLES[kind]}】{label}",
        body=(f"{leader.name}：\n\n附件为{label}的{TITLES[kind]}（PDF），按您可查看的案件统计。\n"
              f"也可在门户“统计报表 › 汇总报告”下载任一期：{page}"),
        kind="summary", attachment=str(path.relative_to(cache))) for leader, key, path in files]
    db.session.flush()
    ids = [m.id for m in messages if m is not None]
    db.session.commit()
    hand_to_workers(ids)
    return len(ids)
