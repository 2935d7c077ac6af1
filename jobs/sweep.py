"""The minute sweep run by `rq cron` (jobs/cron.py): whatever is due and not yet sent goes out,
so messages whose job was lost with Redis or a worker are still delivered."""
from jobs.context import app
from portal.notify.delivery import deliver_backlog


def sweep() -> int:
    with app().app_context():
        return deliver_backlog()
