"""The append-only, hash-chained audit trail.

Each event's hash covers its content and the previous event's hash, so editing or deleting
a row breaks the chain from that row on; `verify_chain` finds the first break.
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa
from flask import has_request_context, request

from portal.clock import as_utc, utcnow
from portal.extensions import db
from portal.jsonutil import canonical, jsonable
from portal.signing.models import AuditEvent

GENESIS = "0" * 64
_AUDIT_LOCK = 7_214_001  # PostgreSQL advisory lock key: one writer extends the chain at a time


def _payload(e: AuditEvent) -> str:
    return canonical({
        "seq": e.seq, "at": as_utc(e.at), "actor_id": e.actor_id, "actor_name": e.actor_name,
        "ip": e.ip, "object_type": e.object_type, "object_id": e.object_id, "case_id": e.case_id,
        "action": e.action, "before": e.before, "after": e.after, "note": e.note,
    })


def _hash(prev_hash: str, e: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + _payload(e)).encode()).hexdigest()


def client_ip() -> str | None:
    if not has_request_context():
        return None
    return request.remote_addr  # ProxyFix (PROXY_COUNT) makes this the client's address


def record(action: str, *, actor=None, object_type: str, object_id: int | None,
           case_id: int | None = None, before: dict | None = None, after: dict | None = None,
           note: str | None = None) -> AuditEvent:
    """Append an event in the current transaction (the caller commits with its change)."""
    session = db.session
    session.flush()  # the change itself first, so on SQLite we already hold the write lock
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK})
    last = session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    event = AuditEvent(
        seq=seq, at=utcnow(),
        actor_id=getattr(actor, "id", None), actor_name=getattr(actor, "name", None),
        ip=client_ip(), object_type=object_type, object_id=object_id, case_id=case_id,
        action=action, before=jsonable(before) if before else None,
        after=jsonable(after) if after else None, note=note, prev_hash=prev)
    event.hash = _hash(prev, event)
    session.add(event)
    return event


def verify_chain(batch: int = 5000) -> tuple[bool, str]:
    """Walk the chain in order; report the first altered, inserted or missing row."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.seq > last_seq)
            .order_by(AuditEvent.seq).limit(batch)).scalars().all()
        if not rows:
            break
        for e in rows:
            if e.seq != expected_seq:
                return False, f"第 {expected_seq} 号审计事件缺失（下一条为第 {e.seq} 号，id={e.id}）"
            if e.prev_hash != prev_hash:
                return False, f"第 {e.seq} 号审计事件（id={e.id}）的前序哈希不符：前一条被改动或删除"
            if _hash(prev_hash, e) != e.hash:
                return False, f"第 {e.seq} 号审计事件（id={e.id}）内容被改动"
            prev_hash, expected_seq, last_seq = e.hash, e.seq + 1, e.seq
            checked += 1
        db.session.expunge_all()
    return True, f"审计链完整，共 {checked} 条事件"
