"""催办 (hurry-up): the desk or a leader presses for an open case's current step.

Whoever holds the step gets a templated message by SMS, email and in the bell; the press is
an audit event ("hurry") in the case's timeline. Presses on one step of one case are at
least HURRY_COOLDOWN_MINUTES apart, whoever presses, so the holders are not flooded: two
presses at the same moment are serialised on the case row and the second is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from portal.i18n import force_locale
from flask_babel import gettext as _

from portal.cases import access, audience
from portal.cases.models import Case
from portal.cases.states import OPEN_STATES
from portal.clock import as_utc, fmt, utcnow
from portal.errors import Conflict, DomainError, PermissionDenied, ValidationError
from portal.extensions import db
from portal.notify.customer import short_time
from portal.notify.outbox import hand_to_workers, notify_users
from portal.notify.templates import sms_text
from portal.org.enums import Role
from portal.signing import audit
from portal.signing.models import AuditEvent

HURRY_ROLES = (Role.DESK, Role.LEADER)
CHANNELS = ("sms", "email", "inapp")
NOTE_MAX = 60


@dataclass(frozen=True)
class HurryPanel:
    """What the case page's 催办 panel shows to someone who may press it."""
    holders: list            # who would be told (never the one looking)
    last_at: datetime | None  # the last press on this step, if within the cool-down
    last_by: str | None
    next_at: datetime | None  # when it may be pressed again; None: now


def _holders(case: Case) -> list:
    return [u for u in audience.holders(case) if u is not None]


def _cooldown() -> timedelta:
    return timedelta(minutes=int(current_app.config.get("HURRY_COOLDOWN_MINUTES", 30)))


def _may_hurry(case: Case, user) -> bool:
    return (user.has_role(*HURRY_ROLES) and case.state in OPEN_STATES and case.step is not None
            and access.can_view(case, user))


def _last_press(case: Case, now: datetime, events=None):
    """The latest press on the case's current step within the cool-down: (at, actor name).
    `events`: the case's timeline when the page has loaded it already (no second query)."""
    since = max(now - _cooldown(), as_utc(case.step_started_at) or now - _cooldown())
    if events is not None:
        return max((e for e in events if e.action == "hurry" and as_utc(e.at) >= since),
                   key=lambda e: e.seq, default=None)
    return db.session.execute(
        sa.select(AuditEvent.at, AuditEvent.actor_name)
        .where(AuditEvent.case_id == case.id, AuditEvent.action == "hurry", AuditEvent.at >= since)
        .order_by(AuditEvent.seq.desc()).limit(1)).first()


def panel_state(case: Case, user, now: datetime | None = None, events=None) -> HurryPanel | None:
    """None when the panel is not shown: not desk or leader, case closed or not theirs, or the
    step waits for this user alone (nobody to press but themselves)."""
    if not _may_hurry(case, user):
        return None
    holders = _holders(case)
    others = [u for u in holders if u.id != user.id]
    if not others and len(holders) > 0:
        return None
    now = now or utcnow()
    last = _last_press(case, now, events)
    return HurryPanel(holders=others,
                      last_at=as_utc(last.at) if last else None, last_by=last.actor_name if last else None,
                      next_at=as_utc(last.at) + _cooldown() if last else None)


def _lock(case: Case) -> None:
    """Serialise presses on one case: the row lock on PostgreSQL; on SQLite a write that takes
    the database's write lock (an empty UPDATE: the row and its version stay as they are)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(Case.id).where(Case.id == case.id).with_for_update())
    else:
        db.session.execute(sa.update(Case).where(Case.id == case.id).values(version=Case.version),
                           execution_options={"synchronize_session": False})


def _check_press(case: Case, actor, step: str | None):
    """With the case locked: it is still open at the step the page showed, someone else holds
    that step, and the last press is longer ago than the cool-down."""
    db.session.refresh(case)
    if case.state not in OPEN_STATES or case.step is None:
        raise Conflict(_("投诉 %(number)s 已办结，无需催办。", number=case.number))
    if step != case.step.value:
        raise Conflict(_("投诉 %(number)s 当前待办已变为「%(step)s」，请确认后再催办。",
                         number=case.number, step=case.step.label))
    holders = [u for u in _holders(case) if u.id != actor.id]
    if not holders:
        raise ValidationError(_("当前步骤没有可催办的人。"))
    now = utcnow()
    last = _last_press(case, now)
    if last is not None:
        raise Conflict(_("%(name)s 已于 %(time)s 催办过，%(next)s 后可再次催办。",
                         name=last.actor_name or "—", time=fmt(last.at),
                         next=fmt(as_utc(last.at) + _cooldown())))
    return holders, now


def hurry_case(case: Case, actor, *, step: str | None, note: str | None = None) -> list:
    """Press 催办 on the step the page showed (`step`, its value). Returns the people told."""
    if not actor.has_role(*HURRY_ROLES):
        raise PermissionDenied(_("只有客服专员和领导可以催办。"))
    if not access.can_view(case, actor):
        raise PermissionDenied(_("投诉 %(number)s 不由您负责。", number=case.number))
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX:
        raise ValidationError(_("附言不能超过 %(n)s 个字。", n=NOTE_MAX), {"note": _("最多 %(n)s 个字", n=NOTE_MAX)})
    # From here on no other press (and no transition) changes the case under us; read it
    # afresh, since a step done since the page was drawn may have moved it on.
    _lock(case)
    try:
        holders, now = _check_press(case, actor, step)
    except DomainError:
        db.session.rollback()  # and with it the lock
        raise
    names = "、".join(u.name for u in holders)
    event = audit.record("hurry", actor=actor, object_type="case", object_id=case.id, case_id=case.id,
                         after={"step": case.step.value, "to": [u.id for u in holders], "note": note},
                         note=f"催办 {names}" + (f"：{note}" if note else ""))
    subject, body, sms = messages(case, actor, note, now)
    rows = notify_users(holders, key_prefix=f"case:{case.id}:hurry:{event.seq}", subject=subject,
                        body=body, sms_body=sms, case_id=case.id, channels=CHANNELS, kind="hurry")
    db.session.flush()
    ids = [m.id for m in rows if m.channel != "inapp"]
    db.session.commit()
    hand_to_workers(ids)
    return holders


def messages(case: Case, actor, note: str | None, now: datetime) -> tuple[str, str, str]:
    """Subject, mail / in-app text and SMS text of a press (always in Chinese)."""
    with force_locale("zh_CN"):
        step = case.step.label
    overdue = case.due_at is not None and as_utc(case.due_at) < now
    unit = f"（{actor.unit.name}）" if actor.unit else ""
    due = f"办理时限 {fmt(case.due_at)}" + ("，已超时" if overdue else "") if case.due_at else "没有时限"
    subject = f"【催办】{case.number} 请尽快{step}"
    body = (f"{actor.name}{unit}催办投诉 {case.number}（{case.customer_name}，{case.product_name}）："
            f"等待您{step}，{due}。请尽快办理。" + (f"\n附言：{note}" if note else ""))
    sms = sms_text("hurry", actor=actor.name, number=case.number, step=step,
                   due=short_time(case.due_at) if case.due_at else "无")
    return subject, body, sms
