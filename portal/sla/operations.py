"""Changes to time-limit policies and the holiday calendar, made by a system administrator.

Each function checks everything first, then writes the change and its audit event and commits
them as one transaction; a broken rule raises ValidationError keyed by form field, and nothing
is written."""
from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.errors import PermissionDenied, ValidationError
from portal.extensions import db
from portal.org.enums import Role
from portal.signing import audit
from portal.sla.enums import BreachAction, CalendarKind, DayKind
from portal.sla.models import Holiday, SlaPolicy
from portal.sla.policy import forget_calendar
from portal.steps import Clock, Step

MAX_MINUTES = 366 * 24 * 60  # a year: anything longer is a typing mistake
_SPLIT = re.compile(r"[\s,，、;；%％]+")


def _require_admin(actor) -> None:
    if actor is None or not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("只有系统管理员可以修改时限和节假日。"))


def _fail(errors: dict[str, str]):
    message = next(iter(errors.values())) if len(errors) == 1 else _("请修改标出的项目。")
    raise ValidationError(message, errors)


def _save(action: str, actor, object_type: str, object_id, before, after, note=None) -> None:
    """`object_id` may be the new row itself: its id exists after the flush."""
    try:
        db.session.flush()
        if isinstance(object_id, db.Model):
            object_id = object_id.id
        audit.record(action, actor=actor, object_type=object_type, object_id=object_id,
                     before=before, after=after, note=note)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    forget_calendar()


# ---------------------------------------------------------------- policies

def parse_target(value) -> Step | Clock | None:
    """"step:verify" / "clock:solution" (the form's value) or a Step / Clock."""
    if isinstance(value, (Step, Clock)):
        return value
    kind, _sep, key = (value or "").partition(":")
    enum = {"step": Step, "clock": Clock}.get(kind)
    return enum.get(key) if enum else None


def _number(text, field: str, errors: dict, *, required: bool, label: str) -> float | None:
    raw = str(text if text is not None else "").strip()
    if not raw:
        if required:
            errors[field] = _("请填写%(label)s", label=label)
        return None
    try:
        value = float(raw)
    except ValueError:
        errors[field] = _("%(label)s须是分钟数，如 30 或 0.5", label=label)
        return None
    if value != value or value in (float("inf"), float("-inf")):
        errors[field] = _("%(label)s须是分钟数，如 30 或 0.5", label=label)
    elif value < 0:
        errors[field] = _("%(label)s不能为负数", label=label)
    elif value == 0:
        errors[field] = _("%(label)s必须大于 0", label=label)
    elif value > MAX_MINUTES:
        errors[field] = _("%(label)s不能超过一年", label=label)
    else:
        return int(value) if value == int(value) else value
    return None


def parse_percents(text) -> list[int] | None:
    """"50, 80" -> [50, 80]; None if the points are not strictly increasing whole numbers in 1..99."""
    if isinstance(text, (list, tuple)):
        parts = [str(p) for p in text]
    else:
        parts = [p for p in _SPLIT.split(str(text or "").strip()) if p]
    try:
        points = [int(p) for p in parts]
    except ValueError:
        return None
    if any(not 1 <= p <= 99 for p in points) or any(b <= a for a, b in zip(points, points[1:])):
        return None
    return points


def _policy_snapshot(p: SlaPolicy) -> dict:
    return {"step": p.step.value if p.step else None, "clock": p.clock.value if p.clock else None,
            "klass": p.klass, "channel": p.channel, "minutes": p.minutes, "calendar": p.calendar,
            "reminder_percents": list(p.reminder_percents or []), "breach_action": p.breach_action,
            "repeat_minutes": p.repeat_minutes, "active": bool(p.active)}


def _same_key(target, klass, channel, exclude_id=None):
    column = SlaPolicy.step if isinstance(target, Step) else SlaPolicy.clock
    stmt = sa.select(SlaPolicy.id).where(
        column == target,
        SlaPolicy.klass.is_(None) if klass is None else SlaPolicy.klass == klass,
        SlaPolicy.channel.is_(None) if channel is None else SlaPolicy.channel == channel)
    if exclude_id is not None:
        stmt = stmt.where(SlaPolicy.id != exclude_id)
    return db.session.execute(stmt).first()


def _validate(data: dict, policy_id: int | None) -> tuple[dict, dict[str, str]]:
    """The values a policy would take from `data`, and what is wrong with them by field."""
    errors: dict[str, str] = {}
    target = parse_target(data.get("target"))
    if target is None:
        errors["target"] = _("请选择步骤或时钟")
    klass = (getattr(data.get("klass"), "value", data.get("klass")) or "").strip() or None
    channel = (getattr(data.get("channel"), "value", data.get("channel")) or "").strip() or None
    minutes = _number(data.get("minutes"), "minutes", errors, required=True, label=_("时限"))
    calendar = CalendarKind.get(data.get("calendar"))
    if calendar is None:
        errors["calendar"] = _("请选择计时日历")
    points = parse_percents(data.get("reminder_percents"))
    if points is None:
        errors["reminder_percents"] = _("提醒点须是 1 到 99 之间的整数百分比，从小到大、不重复，如 50, 80")
    action = BreachAction.get(data.get("breach_action"))
    if action is None:
        errors["breach_action"] = _("请选择超时处理方式")
    repeat = None
    if action == BreachAction.REPEAT:
        repeat = _number(data.get("repeat_minutes"), "repeat_minutes", errors, required=True,
                         label=_("重复间隔"))
    elif str(data.get("repeat_minutes") or "").strip():
        _number(data.get("repeat_minutes"), "repeat_minutes", errors, required=False, label=_("重复间隔"))
    if target is not None and not errors and _same_key(target, klass, channel, policy_id):
        errors["target"] = _("已有相同步骤（时钟）、类别和渠道的规则，请直接修改那一条")
    values = {"target": target, "klass": klass, "channel": channel, "minutes": minutes,
              "calendar": calendar, "reminder_percents": points, "breach_action": action,
              "repeat_minutes": repeat if action == BreachAction.REPEAT else None,
              "active": bool(data.get("active", True))}
    return values, errors


def save_policy(actor, policy: SlaPolicy | None, data: dict) -> SlaPolicy:
    """Create (policy None) or change a policy. `data`: target ("step:verify"), klass, channel
    (values or empty: any), minutes, calendar, reminder_percents ("50, 80"), breach_action,
    repeat_minutes, active."""
    _require_admin(actor)
    v, errors = _validate(data, policy.id if policy else None)
    if errors:
        _fail(errors)

    before = _policy_snapshot(policy) if policy else None
    if policy is None:
        policy = SlaPolicy()
        db.session.add(policy)
    target = v["target"]
    policy.step, policy.clock = (target, None) if isinstance(target, Step) else (None, target)
    policy.klass, policy.channel = v["klass"], v["channel"]
    policy.minutes, policy.calendar = v["minutes"], v["calendar"].value
    policy.reminder_percents, policy.breach_action = v["reminder_percents"], v["breach_action"].value
    policy.repeat_minutes, policy.active = v["repeat_minutes"], v["active"]
    after = _policy_snapshot(policy)
    if before is not None:
        keys = [k for k in after if before.get(k) != after[k]]
        before, after = {k: before[k] for k in keys}, {k: after[k] for k in keys}
        if not keys:
            db.session.rollback()
            return policy
    _save("sla_policy_saved" if before else "sla_policy_created", actor, "sla_policy",
          policy, before, after)
    return policy


def policy_problems() -> list[str]:
    """What is wrong with the stored policies (rows written around the admin page, e.g. by SQL),
    by the same rules as the page, in Chinese: for a start-up or `flask check-config` report."""
    out = []
    for p in db.session.execute(sa.select(SlaPolicy).order_by(SlaPolicy.id)).scalars():
        data = _policy_snapshot(p)
        data["target"] = p.target
        data["reminder_percents"] = p.reminder_percents if isinstance(p.reminder_percents, list) else "x"
        _values, errors = _validate(data, p.id)
        for message in errors.values():
            out.append(_("时限规则 #%(id)s（%(target)s）：%(message)s", id=p.id,
                         target=p.target.label if p.target else "?", message=message))
    return out


def delete_policy(actor, policy: SlaPolicy) -> None:
    """A class- or channel-specific rule may go; the default rule of a step stays (edit it)."""
    _require_admin(actor)
    if policy.klass is None and policy.channel is None:
        _fail({"target": _("默认规则不能删除，可以修改或停用。")})
    before = _policy_snapshot(policy)
    policy_id = policy.id
    db.session.delete(policy)
    _save("sla_policy_deleted", actor, "sla_policy", policy_id, before, None)


# ---------------------------------------------------------------- holidays

_DATE = r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
_LINE = re.compile(r"^\s*" + _DATE + r"(?:\s*(?:至|到|~|～|—|--)\s*" + _DATE + r")?\s*(.*)$")
MAX_RANGE_DAYS = 31
_WORK_WORDS = ("上班", "补班", "调休上班", "工作日", "workday")


def parse_holiday_lines(text: str) -> tuple[list[tuple[date, DayKind, str]], dict[int, str]]:
    """Lines like "2026-10-01 国庆节", "2026-10-01至2026-10-07 国庆节" (a stretch, as the notice
    writes them) or "2026-10-10 上班 国庆节调休" (a make-up working day). Returns the days and,
    by line number, the lines that could not be read."""
    days, bad = [], {}
    for n, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m:
            bad[n] = line.strip()
            continue
        try:
            first = date(int(m[1]), int(m[2]), int(m[3]))
            last = date(int(m[4]), int(m[5]), int(m[6])) if m[4] else first
        except ValueError:
            bad[n] = line.strip()
            continue
        if not 0 <= (last - first).days < MAX_RANGE_DAYS:
            bad[n] = line.strip()
            continue
        rest = m[7].strip()
        kind = DayKind.HOLIDAY
        for word in _WORK_WORDS:
            if rest.startswith(word) or rest.lower().startswith(word):
                kind, rest = DayKind.WORKDAY, rest[len(word):].strip(" ：:，,")
                break
        else:
            for word in ("放假", "休息", "holiday"):
                if rest.lower().startswith(word):
                    rest = rest[len(word):].strip(" ：:，,")
                    break
        day = first
        while day <= last:
            days.append((day, kind, rest[:40]))
            day += timedelta(days=1)
    return days, bad


def add_holidays(actor, days: list[tuple[date, DayKind, str]], field: str = "lines") -> int:
    """Add or change days (a day already entered takes the new kind and name); returns how many
    rows changed. A weekday entered as a make-up working day is refused: it would change
    nothing and is a sign of a typing mistake. (Weekend days inside a holiday stretch are kept,
    as the notice lists them.)"""
    _require_admin(actor)
    errors = []
    seen: dict[date, tuple[DayKind, str]] = {}
    for day, kind, name in days:
        if kind == DayKind.WORKDAY and day.weekday() < 5:
            errors.append(_("%(day)s 是工作日，无需登记为调休上班", day=day.isoformat()))
        elif day in seen and seen[day][0] != kind:
            errors.append(_("%(day)s 重复且类型不同", day=day.isoformat()))
        seen[day] = (kind, name)
    if not seen and not errors:
        errors.append(_("请至少填写一天"))
    if errors:
        _fail({field: "；".join(errors[:5]) + ("……" if len(errors) > 5 else "")})
    existing = {h.day: h for h in db.session.execute(
        sa.select(Holiday).where(Holiday.day.in_(list(seen)))).scalars()}
    changed = []
    for day, (kind, name) in sorted(seen.items()):
        row = existing.get(day)
        if row is None:
            db.session.add(Holiday(day=day, kind=kind, name=name))
        elif row.kind != kind or row.name != name:
            row.kind, row.name = kind, name
        else:
            continue
        changed.append({"day": day.isoformat(), "kind": kind.value, "name": name})
    if not changed:
        return 0
    _save("holidays_saved", actor, "holiday", None, None, {"days": changed})
    return len(changed)


def remove_holiday(actor, holiday: Holiday) -> None:
    _require_admin(actor)
    before = {"day": holiday.day.isoformat(), "kind": holiday.kind.value, "name": holiday.name}
    holiday_id = holiday.id
    db.session.delete(holiday)
    _save("holiday_removed", actor, "holiday", holiday_id, before, None)


def days_of_year(year: int) -> list[Holiday]:
    return db.session.execute(sa.select(Holiday).where(
        Holiday.day >= date(year, 1, 1), Holiday.day <= date(year, 12, 31))
        .order_by(Holiday.day)).scalars().all()


def years_entered() -> list[int]:
    days = db.session.execute(sa.select(Holiday.day)).scalars().all()
    return sorted({d.year for d in days})
