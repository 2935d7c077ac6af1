"""Timers of the escalation ladder (portal/escalation): one fired at its time by the job the
transition scheduled (`enqueue_at`), and the minute sweep for any whose job was lost."""
from jobs.context import app
from portal.escalation.operations import fire_timer, sweep_timers


def fire(timer_id: int) -> str:
    # Run twice (the sweep and the scheduled job at once, a retry), it still acts once:
    # fire_timer claims the timer in the transaction that does its work.
    with app().app_context():
        return fire_timer(timer_id)


def sweep() -> int:
    with app().app_context():
        return sweep_timers()
