"""RQ entry point (jobs/cron.py): corrective-action sheets past their time limit."""
from jobs.context import app
from portal.capa.operations import remind_overdue


def remind_overdue_sheets() -> int:
    with app().app_context():
        return remind_overdue()
