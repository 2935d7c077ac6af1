"""Timers of the escalation ladder (portal/escalation): one fired at its time by the job the
transition scheduled (`enqueue_at`), and the minute sweep for any whose job was lost."""
import logging
import time

from jobs.context import app
from portal.escalation.operations import fire_timer, sweep_timers

log = logging.getLogger(__name__)


def fire(timer_id: int) -> str:
    # Run twice (the sweep and the scheduled job at once, a retry), it still acts once:
    # fire_timer claims the timer in the transaction that does its work.
    with app().app_context():
        outcome = fire_timer(timer_id)
        if outcome == "early":  # a clock a little behind the scheduler's: once more, shortly
            time.sleep(1.5)
            outcome = fire_timer(timer_id)
        return outcome


def fire_many(timer_ids: list[int]) -> int:
    """The sweep's hand-over: each timer in its own transaction; returns how many acted."""
    with app().app_context():
        return sum(1 for timer_id in timer_ids if _fire_one(timer_id) not in ("skipped", "early"))


def _fire_one(timer_id: int) -> str:
    from portal.extensions import db
    try:
        return fire_timer(timer_id)
    except Exception:  # noqa: BLE001 - one bad timer must not stop the others; the next sweep retries it
        db.session.rollback()
        log.exception("timer %s failed", timer_id)
        return "skipped"


def sweep() -> int:
    with app().app_context():
        return sweep_timers()
