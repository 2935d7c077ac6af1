"""Periodic jobs, read by `rq cron jobs/cron.py`. Cron strings match local time, which the
runner sets to Asia/Shanghai for every process."""

from rq import cron

from jobs.sweep import sweep

# Every minute: outbox messages whose delivery job was lost (Redis down, worker killed) or
# whose retry is due go out. A sweep still queued when the next one is due is dropped (ttl),
# so a stopped worker does not come back to a backlog.
cron.register(sweep, queue_name="notify", cron="* * * * *", ttl=60)

from jobs.timers import sweep as sweep_timers  # noqa: E402

# Every minute too: reminder and escalation timers whose scheduled job was lost (portal/escalation).
cron.register(sweep_timers, queue_name="notify", cron="* * * * *", ttl=60)

from jobs.cleanup import purge_staged_uploads  # noqa: E402

# Nightly: files staged in forms that were never submitted.
cron.register(purge_staged_uploads, queue_name="default", cron="30 3 * * *")

from jobs.cleanup import purge_draft_pdfs  # noqa: E402

# Nightly too: draft PDFs (草稿) a day or two old; a draft still wanted is made again on download.
cron.register(purge_draft_pdfs, queue_name="default", cron="40 3 * * *")

from jobs.cleanup import purge_exports  # noqa: E402

# Nightly: case-list export files older than a day (their download pages have expired).
cron.register(purge_exports, queue_name="default", cron="50 3 * * *")

from jobs.cleanup import purge_api_records  # noqa: E402

# Nightly: the intake API's Idempotency-Key claims after a day, its call log after 90 days.
cron.register(purge_api_records, queue_name="default", cron="55 3 * * *")

from jobs.capa import remind_overdue_sheets  # noqa: E402

# Every quarter of an hour: corrective-action sheets past their time limit (once per step).
cron.register(remind_overdue_sheets, queue_name="notify", cron="*/15 * * * *", ttl=900)

from jobs.summaries import send_daily, send_monthly, send_weekly  # noqa: E402

# Leaders' reports (portal/reports/summary.py), for the period just ended; the outbox key
# per period and leader makes a second run (a restarted cron) send nothing again.
cron.register(send_daily, queue_name="default", cron="0 8 * * *")  # yesterday's, at 08:00
cron.register(send_weekly, queue_name="default", cron="30 8 * * 1")  # Mondays 08:30: last week
cron.register(send_monthly, queue_name="default", cron="0 9 1 * *")  # the 1st, 09:00: last month
