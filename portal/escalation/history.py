"""What the case page shows of the ladder: the level reached, why, and every reminder and
escalation with what was sent to whom (templates/cases/_escalation.html)."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from portal import dbreads, refcache
from portal.escalation.models import CaseEscalation, LadderLevel
from portal.extensions import db
from portal.labels import N_
from portal.notify.models import OutboxMessage
from portal.org.models import User

STATUS = {"pending": N_("待发送"), "sending": N_("发送中"), "sent": N_("已发送"), "failed": N_("失败，待重试"),
          "dead": N_("已放弃"), "cancelled": N_("已取消"), "unread": N_("未读"), "read": N_("已读")}
CHANNEL = {"email": N_("邮件"), "sms": N_("短信"), "robot": N_("群机器人"), "inapp": N_("站内消息")}


@dataclass
class Entry:
    at: object
    kind: str  # reminder | escalation
    title: str  # stored Chinese (the message subject or the level's name)
    reason: str | None = None
    level: int | None = None
    trigger: object = None
    # [(name, [(channel, status), …])]
    sent: list = field(default_factory=list)


def _who(msg) -> str:
    return msg.recipient_name or msg.address or "—"


def _grouped(rows) -> list:
    people: dict[str, list] = {}
    for m in rows:
        people.setdefault(_who(m), []).append((m.channel, m.status))
    return list(people.items())


# What the case page shows of its messages, as plain rows (no bodies, no attempt log): the
# ladder's reminders and escalations here, the customer's SMS in notify/customer.told_of.
_PAGE_MESSAGES = (
    sa.select(OutboxMessage.id, OutboxMessage.key, OutboxMessage.kind, OutboxMessage.channel,
              OutboxMessage.status, OutboxMessage.subject, OutboxMessage.address, OutboxMessage.send_after,
              OutboxMessage.sent_at, User.name.label("recipient_name"))
    .outerjoin(User, User.id == OutboxMessage.recipient_id)
    .where(OutboxMessage.case_id == sa.bindparam("case_id"),
           OutboxMessage.kind.in_(("reminder", "escalation", "customer")))
    .order_by(OutboxMessage.send_after, OutboxMessage.id))
_LEVEL_NAMES = (sa.select(LadderLevel.level, LadderLevel.name).where(LadderLevel.active.is_(True))
                .order_by(LadderLevel.level))


def level_names() -> list:
    """(level, name) of the active ladder levels, kept a minute (portal/refcache)."""
    return refcache.get(("ladder_levels",), lambda: db.session.execute(_LEVEL_NAMES).all())


def page_messages(case) -> list:
    """The case's reminders, escalations and customer SMS in one query (the case page)."""
    return dbreads.rows(_PAGE_MESSAGES, {"case_id": case.id})


def history(case, messages) -> dict:
    """Level, its name, why (the last escalation's reason), and the entries newest first.
    `messages`: page_messages(case)."""
    escalations = []
    if case.ladder_level:  # levels start at 1 and an escalation lifts the case to its level for good
        escalations = db.session.execute(sa.select(CaseEscalation).where(CaseEscalation.case_id == case.id)
                                         .order_by(CaseEscalation.at, CaseEscalation.id)).scalars().all()
    messages = [m for m in messages if m.kind in ("reminder", "escalation")]
    by_id = {m.id: m for m in messages}
    entries = []
    # The active levels' numbers and names only: their recipients are for sending, not showing.
    levels = level_names()
    names = {row.level: row.name for row in levels}
    claimed = set()
    for e in escalations:
        rows = [by_id[i] for i in e.message_ids if i in by_id]
        claimed.update(m.id for m in rows)
        entries.append(Entry(at=e.at, kind="escalation", title=names.get(e.level, ""), reason=e.reason,
                             level=e.level, trigger=e.trigger, sent=_grouped(rows)))
    # One entry per reminder point: its rows share the key up to ":<recipient>:<channel>". Their
    # send_after moves when a failed mail is retried, so the entry is dated by the earliest.
    reminders: dict[str, list] = {}
    for m in messages:
        if m.id in claimed or m.kind != "reminder":
            continue
        reminders.setdefault(m.key.rsplit(":", 2)[0], []).append(m)
    for rows in reminders.values():
        entries.append(Entry(at=min(m.send_after for m in rows), kind="reminder", title=rows[0].subject,
                             sent=_grouped(rows)))
    entries.sort(key=lambda x: x.at, reverse=True)
    last = escalations[-1] if escalations else None
    from flask_login import current_user
    from portal.escalation.manual import may_escalate
    # The level 手动升级 would reach (manual.next_level), from the levels read above.
    above = (next((row for row in levels if row.level > case.ladder_level), None)
             if may_escalate(case, current_user) else None)
    return {"level": case.ladder_level, "level_name": names.get(case.ladder_level, ""), "next": above,
            "why": last.reason if last else None, "entries": entries,
            "status": STATUS, "channel": CHANNEL}
