"""Webhook delivery against real local HTTP receivers and real `rq worker` processes: a
receiver that is down is retried with backoff and then gets the event once; a worker killed
mid-batch duplicates nothing that was recorded (the one in flight at most, with the same
X-Portal-Delivery id); one receiver's outage does not hold up another's."""
import os
import signal
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.notify.delivery import MAX_ATTEMPTS, STALE_AFTER, deliver_backlog, deliver_due
from portal.notify.models import OutboxAttempt, OutboxMessage
from portal.notify.outbox import hand_to_workers
from portal.webhooks import emit, signing
from portal.webhooks.delivery import RETRY_AFTER, parse_response
from tests.conftest import make_case
from tests.notify.test_delivery import children, kill_tree
from tests.test_queues import hung_redis, post_intake_timed  # noqa: F401 - hung_redis is a fixture
from tests.webhooks.receiver import Receiver

WORKER_SECONDS = 60


def rows(endpoint=None):
    stmt = sa.select(OutboxMessage).where(OutboxMessage.channel == "webhook").order_by(OutboxMessage.id)
    if endpoint is not None:
        stmt = stmt.where(OutboxMessage.address == str(endpoint.id))
    return db.session.execute(stmt.execution_options(populate_existing=True)).scalars().all()


def attempts(message_id):
    return db.session.execute(sa.select(OutboxAttempt).where(OutboxAttempt.message_id == message_id)
                              .order_by(OutboxAttempt.attempt)).scalars().all()


def pings(endpoint, n):
    """n deliveries to one endpoint, committed (the bench and the kill test need many)."""
    out = []
    for i in range(n):
        out += emit.emit("ping", {"message": f"第 {i} 条", "endpoint": endpoint.name}, key=uuid.uuid4().hex,
                         endpoint_ids=[endpoint.id])
    db.session.commit()
    return [m.id for m in out]


def test_receiver_down_is_retried_after_10_seconds_then_delivered_once(app, receiver, make_endpoint):
    make_endpoint(receiver, events=["case.created"])
    receiver.stop()  # nothing listens: connection refused
    make_case()
    deliver_due()

    [row] = rows()
    assert (row.status, row.attempts) == ("failed", 1)
    [first] = attempts(row.id)
    assert first.outcome == "failed" and "ConnectionRefused" in first.response
    wait = clock.as_utc(row.send_after) - clock.as_utc(first.at)
    assert timedelta(seconds=9) < wait <= RETRY_AFTER[0] + timedelta(seconds=1)

    deliver_due()  # not due yet: nothing is tried
    assert rows()[0].attempts == 1

    receiver.start()  # back on the same port
    clock.travel(RETRY_AFTER[0] + timedelta(seconds=1))
    deliver_due()
    deliver_due()

    [row] = rows()
    assert (row.status, row.attempts) == ("sent", 2)
    [got] = receiver.received
    assert got["verified"]
    assert got["headers"][signing.HEADER_DELIVERY] == got["json"]["id"]
    shown = parse_response(attempts(row.id)[-1].response)
    assert shown["status"] == 200 and shown["ms"] is not None and '"ok"' in shown["excerpt"]


def test_an_error_answer_is_retried_with_the_same_delivery_id_and_a_fresh_signature(app, receiver, make_endpoint):
    make_endpoint(receiver, events=["case.created"])
    receiver.status = 503
    make_case()
    deliver_due()
    [row] = rows()
    assert row.status == "failed"
    shown = parse_response(attempts(row.id)[0].response)
    assert shown["status"] == 503 and "service unavailable" in shown["excerpt"]

    receiver.status = 200
    clock.travel(timedelta(seconds=12))
    deliver_due()
    first, second = receiver.received
    assert first["headers"][signing.HEADER_DELIVERY] == second["headers"][signing.HEADER_DELIVERY]
    assert first["body"] == second["body"]
    assert first["verified"] and second["verified"]
    assert rows()[0].status == "sent"


def test_failures_back_off_longer_each_time_until_dead(app, receiver, make_endpoint):
    make_endpoint(receiver, events=["case.created"])
    receiver.status = 500
    make_case()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        deliver_due()
        [row] = rows()
        if row.status == "dead":
            break
        waits.append(clock.as_utc(row.send_after) - clock.as_utc(row.last_attempt_at))
        clock.travel(clock.as_utc(row.send_after) - clock.utcnow() + timedelta(seconds=1))
    [row] = rows()
    assert row.status == "dead" and row.attempts == MAX_ATTEMPTS
    assert len(receiver.received) == MAX_ATTEMPTS
    assert [round(w.total_seconds() / 10) * 10 for w in waits] == [round(r.total_seconds() / 10) * 10 for r in RETRY_AFTER]
    assert len({r["headers"][signing.HEADER_DELIVERY] for r in receiver.received}) == 1


def test_one_batch_keeps_one_connection_per_receiver(app, receiver, make_endpoint):
    endpoint = make_endpoint(receiver, events=["case.created"])
    from portal.notify.delivery import deliver_messages
    ids = pings(endpoint, 20)
    outcomes = deliver_messages(ids)
    assert set(outcomes.values()) == {"sent"}
    assert len(receiver.received) == 20
    assert len(receiver.connections) == 1  # one TCP connection (one client port) for all 20


def test_a_receiver_down_does_not_hold_up_another(app, receiver, make_endpoint):
    down = Receiver().start()
    try:
        down_endpoint = make_endpoint(down, name="停机的系统")
        up_endpoint = make_endpoint(receiver, name="在线的系统")
        down.stop()
        ids = []
        for i in range(6):  # interleaved: down, up, down, up, …
            ids += pings(down_endpoint, 1) + pings(up_endpoint, 1)
        from portal.notify.delivery import deliver_messages
        outcomes = deliver_messages(ids)
        assert [outcomes.get(m.id) for m in rows(up_endpoint)] == ["sent"] * 6
        assert len(receiver.received) == 6
        # Three refusals in a row and the rest of that receiver's rows wait for a later run.
        assert sorted(m.status for m in rows(down_endpoint)) == ["failed"] * 3 + ["pending"] * 3
    finally:
        down.stop()


# The real worker's first retry comes this many seconds after the failure instead of
# RETRY_AFTER[0] (10 s of waiting): the wait itself is the same code, configured.
WORKER_FIRST_RETRY = timedelta(seconds=2)


def test_a_real_worker_delivers_and_retries_a_down_receiver_by_itself(app, receiver, make_endpoint, rq_worker):
    """No sweep here: the failed attempt schedules its retry WEBHOOK_FIRST_RETRY_SECONDS on
    (RQ's scheduler; RETRY_AFTER[0], 10 s, unless configured)."""
    make_endpoint(receiver, events=["case.created"])
    port = receiver.port
    receiver.stop()
    proc = rq_worker(WEBHOOK_FIRST_RETRY_SECONDS=str(WORKER_FIRST_RETRY.total_seconds()))
    make_case()  # handed to the worker after commit, as the intake form does
    [row] = rows()
    deadline = time.monotonic() + WORKER_SECONDS
    while rows()[0].status != "failed":
        assert time.monotonic() < deadline and proc.poll() is None, proc.log()
        time.sleep(0.1)
    receiver.port = port
    receiver.start()
    while rows()[0].status != "sent":
        assert time.monotonic() < deadline and proc.poll() is None, proc.log()
        time.sleep(0.2)
    [got] = receiver.received
    assert got["verified"]
    [first, second] = attempts(row.id)
    gap = clock.as_utc(second.at) - clock.as_utc(first.at)
    assert WORKER_FIRST_RETRY <= gap < WORKER_FIRST_RETRY + timedelta(seconds=8), gap


def test_worker_killed_mid_batch_duplicates_nothing_recorded(app, receiver, make_endpoint, rq_worker):
    endpoint = make_endpoint(receiver)
    ids = pings(endpoint, 40)
    hand_to_workers(ids)
    proc = rq_worker(burst=True)
    while len(receiver.received) < 15:
        assert proc.poll() is None, proc.log()
        time.sleep(0.002)
    hold = receiver.hold_next()  # the next one is received, never answered…
    assert receiver.holding.wait(WORKER_SECONDS), proc.log()
    [horse] = children(proc.pid)
    os.kill(horse, signal.SIGKILL)  # …the work-horse dies waiting for the answer
    proc.wait(WORKER_SECONDS)
    hold.set()
    in_flight = receiver.received[-1]["headers"][signing.HEADER_DELIVERY]

    hand_to_workers(ids)  # the job is lost with the horse; whatever is queued again
    proc = rq_worker(burst=True)
    assert proc.wait(WORKER_SECONDS) == 0, proc.log()
    clock.travel(STALE_AFTER + timedelta(seconds=1))
    deliver_backlog()  # the minute sweep takes back what the killed horse had claimed

    assert {m.status for m in rows()} == {"sent"}
    got = receiver.deliveries()
    sent_ids = {json_id(m.body) for m in rows()}
    assert set(got) == sent_ids
    twice = [d for d in set(got) if got.count(d) > 1]
    assert twice in ([], [in_flight]), twice  # at most the one in flight, with the same id
    for d in twice:
        [msg] = [m for m in rows() if json_id(m.body) == d]
        assert [a.outcome for a in attempts(msg.id)] == ["lost", "sent"]
    assert all(r["verified"] for r in receiver.received)


def json_id(body: str) -> str:
    import json
    return json.loads(body)["id"]


def test_a_burst_of_changes_is_drained_by_two_jobs_not_one_per_change(app, receiver, make_endpoint, rq_worker):
    """Each job forks a work-horse with its own database connection, which costs more than the
    POSTs: 30 changes committed one by one queue two drain jobs (one per worker), and a worker
    then delivers all 30 once."""
    from rq import Queue
    from portal.queues import redis
    endpoint = make_endpoint(receiver)
    redis().flushdb()
    for i in range(30):
        hand_to_workers(pings(endpoint, 1))  # 30 commits, each handed over as an operation does
    jobs = Queue("notify", connection=redis()).get_jobs()
    assert [j.func_name for j in jobs] == ["jobs.deliver.drain_webhooks"] * 2
    proc = rq_worker(burst=True)
    assert proc.wait(WORKER_SECONDS) == 0, proc.log()
    ids = [r["headers"][signing.HEADER_DELIVERY] for r in receiver.received]
    assert len(ids) == len(set(ids)) == 30
    assert all(r["verified"] for r in receiver.received)
    assert {r.status for r in rows(endpoint)} == {"sent"}


def test_with_redis_hung_intakes_with_webhooks_wait_for_it_once_not_each_time(app, as_user, receiver,
                                                                            make_endpoint, hung_redis,
                                                                            monkeypatch):
    """An integrator's endpoint makes every intake kick a webhook drain in Redis. With Redis
    hung, the first intake finds out (one socket timeout); the next ones skip Redis, kick
    included, and their deliveries wait in the outbox for the minute sweep."""
    make_endpoint(receiver, events=["case.created"])
    rep = as_user("rep_cd")
    post_intake_timed(rep)  # warm (first-request costs)
    healthy = min(post_intake_timed(rep)[1] for _ in range(2))  # the figure to compare
    monkeypatch.setitem(app.config, "REDIS_URL", hung_redis)
    post_intake_timed(rep)  # finds Redis hung
    later = [post_intake_timed(rep) for _ in range(4)]
    assert all(resp.status_code == 303 for resp, _ in later)
    # each would cost another REDIS_SOCKET_TIMEOUT (0.25 s) if the kick tried Redis again
    assert sum(s for _, s in later) < 4 * healthy + 0.5, (healthy, [s for _, s in later])
    assert sum(m.status == "pending" for m in rows()) >= 5
