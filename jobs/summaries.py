"""RQ entry points (jobs/cron.py): the leaders' weekly and monthly summaries and the daily
report of regulator spot checks and serious complaints (portal/reports/summary.py)."""
from jobs.context import app
from portal.reports.summary import mail_to_leaders


def send_weekly() -> int:
    with app().app_context():
        return mail_to_leaders("weekly")


def send_monthly() -> int:
    with app().app_context():
        return mail_to_leaders("monthly")


def send_daily() -> int:
    with app().app_context():
        return mail_to_leaders("daily")
