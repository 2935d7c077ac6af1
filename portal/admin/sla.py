"""Admin pages for time limits (per step or case clock × class × channel) and the holiday
calendar per year. Thin: portal.sla.operations does the work."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _

from forms.sla import HolidayForm, HolidayPasteForm, PolicyForm
from portal.admin import bp
from portal.admin.routes import _actor, _failed, _render_form, _status, admin_only
from portal.cases.enums import Channel, Klass
from portal.clock import local, utcnow
from portal.errors import DomainError
from portal.extensions import db
from portal.htmx import redirect_to
from portal.sla import operations
from portal.sla.enums import BreachAction, CalendarKind, DayKind
from portal.sla.models import Holiday, SlaPolicy
from portal.steps import Clock, Step

_ORDER = {t: i for i, t in enumerate([*Step, *Clock])}


def get_policy(policy_id: int) -> SlaPolicy:
    return db.session.get(SlaPolicy, policy_id) or abort(404)


@bp.route("/sla")
@admin_only
def sla_policies():
    rows = db.session.execute(sa.select(SlaPolicy)).scalars().all()
    # By step in workflow order, then clocks; the default rule of each first.
    rows.sort(key=lambda p: (_ORDER[p.target], p.klass is not None, p.channel is not None,
                             p.klass or "", p.channel or ""))
    return render_template("admin/sla.html", rows=rows, span_text=span_text,
                           klasses={k.value: k.label for k in Klass},
                           channels={c.value: c.label for c in Channel},
                           calendars={c.value: c.label for c in CalendarKind},
                           actions={a.value: a.label for a in BreachAction})


def span_text(minutes) -> str:
    """30 -> "30 分钟", 240 -> "4 小时", 10080 -> "7 天" (whole units only)."""
    if minutes is None:
        return ""
    m = float(minutes)
    if m >= 1440 and m % 1440 == 0:
        return _("%(n)s 天", n=int(m // 1440))
    if m >= 60 and m % 60 == 0:
        return _("%(n)s 小时", n=int(m // 60))
    return _("%(n)s 分钟", n=_num(m))


def _policy_form_data(p: SlaPolicy) -> dict:
    return {"target": f"{'step' if p.step else 'clock'}:{p.target.value}", "klass": p.klass or "",
            "channel": p.channel or "", "minutes": _num(p.minutes), "calendar": p.calendar,
            "reminder_percents": ", ".join(str(x) for x in p.reminder_percents or []),
            "breach_action": p.breach_action, "repeat_minutes": _num(p.repeat_minutes),
            "active": bool(p.active)}


def _num(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value) == int(value) else str(value)


def _render_policy_form(form, policy, message=None, status=200):
    return _render_form("admin/sla_form.html", form, message, status, policy=policy)


@bp.route("/sla/new", methods=["GET", "POST"])
@admin_only
def sla_policy_new():
    defaults = {"reminder_percents": "50, 80", "breach_action": "escalate", "active": True,
                "target": request.args.get("target", "")}
    form = PolicyForm(data=defaults)
    message = None
    if form.validate_on_submit():
        try:
            operations.save_policy(_actor(), None, form.policy_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已添加时限规则。"), "success")
            return redirect_to(url_for("admin.sla_policies"))
    return _render_policy_form(form, None, message, _status())


@bp.route("/sla/<int:policy_id>", methods=["GET", "POST"])
@admin_only
def sla_policy_edit(policy_id: int):
    policy = get_policy(policy_id)
    form = PolicyForm(data=_policy_form_data(policy))
    message = None
    if form.validate_on_submit():
        try:
            operations.save_policy(_actor(), policy, form.policy_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已保存时限规则。"), "success")
            return redirect_to(url_for("admin.sla_policies"))
    return _render_policy_form(form, policy, message, _status())


@bp.route("/sla/<int:policy_id>/delete", methods=["POST"])
@admin_only
def sla_policy_delete(policy_id: int):
    policy = get_policy(policy_id)
    try:
        operations.delete_policy(_actor(), policy)
    except DomainError as exc:
        form = PolicyForm(formdata=None, data=_policy_form_data(policy))
        return _render_policy_form(form, policy, _failed(form, exc), 400)
    flash(_("已删除时限规则。"), "success")
    return redirect_to(url_for("admin.sla_policies"))


# ---------------------------------------------------------------- holidays

def _year() -> int:
    year = request.args.get("year", type=int) or local(utcnow()).year
    if not 2000 <= year <= 2100:
        abort(404)
    return year


def _render_holidays(year, form=None, paste=None, message=None, status=200):
    form = form or HolidayForm(formdata=None, data={"kind": DayKind.HOLIDAY.value})
    paste = paste or HolidayPasteForm(formdata=None)
    years = sorted(set(operations.years_entered()) | {year, local(utcnow()).year, local(utcnow()).year + 1})
    return render_template("admin/holidays.html", year=year, days=operations.days_of_year(year),
                           years=years, form=form, paste=paste, message=message), status


@bp.route("/holidays")
@admin_only
def holidays():
    return _render_holidays(_year())


@bp.route("/holidays/add", methods=["POST"])
@admin_only
def holiday_add():
    year = _year()
    form = HolidayForm()
    if form.validate_on_submit():
        try:
            operations.add_holidays(_actor(), [(form.day.data, DayKind(form.kind.data), form.name.data or "")],
                                    field="day")
        except DomainError as exc:
            return _render_holidays(year, form=form, message=_failed(form, exc), status=400)
        flash(_("已保存 %(day)s。", day=form.day.data.isoformat()), "success")
        return redirect_to(url_for("admin.holidays", year=form.day.data.year))
    return _render_holidays(year, form=form, message=_("请修改标出的项目。"), status=400)


@bp.route("/holidays/paste", methods=["POST"])
@admin_only
def holiday_paste():
    year = _year()
    paste = HolidayPasteForm()
    if not paste.validate_on_submit():
        return _render_holidays(year, paste=paste, message=_("请修改标出的项目。"), status=400)
    days, bad = operations.parse_holiday_lines(paste.lines.data)
    if bad:
        n, line = next(iter(bad.items()))
        paste.lines.errors = [_("第 %(n)s 行无法识别：%(line)s（格式：2026-10-01 国庆节，或 2026-10-10 上班 国庆节调休）",
                                n=n, line=line[:60])]
        return _render_holidays(year, paste=paste, message=_("请修改标出的项目。"), status=400)
    try:
        changed = operations.add_holidays(_actor(), days)
    except DomainError as exc:
        return _render_holidays(year, paste=paste, message=_failed(paste, exc), status=400)
    flash(_("已保存 %(n)s 天。", n=changed), "success")
    return redirect_to(url_for("admin.holidays", year=days[0][0].year if days else year))


@bp.route("/holidays/<int:holiday_id>/delete", methods=["POST"])
@admin_only
def holiday_delete(holiday_id: int):
    holiday = db.session.get(Holiday, holiday_id) or abort(404)
    day = holiday.day
    operations.remove_holiday(_actor(), holiday)
    flash(_("已删除 %(day)s。", day=day.isoformat()), "success")
    year = day.year
    return redirect_to(url_for("admin.holidays", year=year))
