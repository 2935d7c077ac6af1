"""Timers of the escalation ladder (portal/escalation): one fired at its time by the job the
transition scheduled (`enqueue_at`), and the minute sweep for any whose job was lost."""
import time

from jobs.context import app
from portal.escalation.operations import fire_timer, sweep_timers


def fire(timer_id: int) -> str:
    # Run twice (the sweep and the scheduled job at once, a retry), it still acts once:
    # fire_timer claims the timer in the transaction that does its work.
    with app().app_context():
        outcome = fire_timer(timer_id)
        if outcome == "early":  # a clock a little behind the scheduler's: once more, shortly
            time.sleep(1.5)
            outcome = fire_timer(timer_id)
        return outcome


def sweep() -> int:
    with app().app_context():
        return sweep_timers()
