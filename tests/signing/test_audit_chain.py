"""The audit trail is hash-chained: an edited or deleted row is found by `verify_chain()` and by
`flask audit-verify`, which names the first bad row and exits 1; an intact chain exits 0."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.signing.audit import verify_chain
from portal.signing.models import AuditEvent
from tests.conftest import ROOT, make_case_at


@pytest.fixture
def chain(app):
    """A case taken through approval and sign-off: a chain of a few dozen events."""
    make_case_at("closed")
    seqs = db.session.execute(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars().all()
    assert len(seqs) >= 10 and seqs == list(range(1, len(seqs) + 1))
    return seqs


def event(seq: int) -> AuditEvent:
    return db.session.execute(sa.select(AuditEvent).where(AuditEvent.seq == seq)).scalar_one()


def tamper(sql: str, **params) -> None:
    """Change the table behind the portal's back, as someone with database access could."""
    db.session.execute(sa.text(sql), params)
    db.session.commit()


def audit_verify(runner):
    return runner.invoke(args=["audit-verify"])


def test_intact_chain_passes(chain, runner):
    ok, message = verify_chain()
    assert ok and message == f"审计链完整，共 {len(chain)} 条事件"
    result = audit_verify(runner)
    assert result.exit_code == 0 and f"审计链完整，共 {len(chain)} 条事件" in result.output


def test_edited_row_is_named(chain, runner):
    middle = chain[len(chain) // 2]
    target = event(middle)
    tamper("UPDATE audit_event SET note = :note WHERE seq = :seq", note="（改过的批示）", seq=middle)

    expected = f"第 {middle} 号审计事件（id={target.id}）内容被改动"
    assert verify_chain() == (False, expected)
    result = audit_verify(runner)
    assert result.exit_code == 1 and expected in result.output


def test_edited_actor_with_recomputed_hash_breaks_the_next_link(chain, runner):
    """Rewriting a row and its own hash still shows: the next row points at the old hash."""
    from portal.signing.audit import _hash
    middle = chain[len(chain) // 2]
    target = event(middle)
    target.actor_name = "别人"
    target.hash = _hash(target.prev_hash, target)
    db.session.commit()
    following = event(middle + 1)

    expected = f"第 {middle + 1} 号审计事件（id={following.id}）的前序哈希不符：前一条被改动或删除"
    assert verify_chain() == (False, expected)
    result = audit_verify(runner)
    assert result.exit_code == 1 and expected in result.output


def test_deleted_middle_row_is_named(chain, runner):
    middle = chain[len(chain) // 2]
    following = event(middle + 1)
    tamper("DELETE FROM audit_event WHERE seq = :seq", seq=middle)

    expected = f"第 {middle} 号审计事件缺失（下一条为第 {middle + 1} 号，id={following.id}）"
    assert verify_chain() == (False, expected)
    result = audit_verify(runner)
    assert result.exit_code == 1 and expected in result.output


def test_deleted_row_with_renumbered_rest_is_still_found(chain, runner):
    """Closing the gap by renumbering does not hide a deletion: the next row's link is broken."""
    middle = chain[len(chain) // 2]
    following = event(middle + 1)
    tamper("DELETE FROM audit_event WHERE seq = :seq", seq=middle)
    for seq in chain[chain.index(middle) + 1:]:
        tamper("UPDATE audit_event SET seq = :new WHERE seq = :old", new=seq - 1, old=seq)

    ok, message = verify_chain()
    assert not ok and message.startswith(f"第 {middle} 号审计事件（id={following.id}）")
    assert audit_verify(runner).exit_code == 1


def test_the_real_command_exits_1_naming_the_row(chain, app):
    """`flask --app wsgi audit-verify` as an operator runs it, in its own process."""
    middle = chain[1]
    target = event(middle)
    tamper("UPDATE audit_event SET after = NULL WHERE seq = :seq", seq=middle)
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": app.config["REDIS_URL"], "SECRET_KEY": "audit-verify-test"}
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    proc = subprocess.run([flask, "--app", "wsgi", "audit-verify"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert f"第 {middle} 号审计事件（id={target.id}）内容被改动" in proc.stdout
