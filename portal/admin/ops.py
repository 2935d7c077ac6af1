"""Operations pages for administrators: the outbox (every message, each attempt with the
provider's answer, a retry for what failed) and the RQ queues, workers and cron scheduler.

Both only read, but for one change: sending failed messages again (`retry_outbox_message`,
and `retry_outbox_messages` for all a filter lists after an outage), each put back in the
queue with its audit event in one transaction, through portal.notify.outbox.retry_message.
The retry event is not a step of the case, so it stays out of the case's timeline; the
message's page shows it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from redis.exceptions import RedisError

from portal.admin import bp
from portal.admin.routes import admin_only
from portal.cases.models import Case
from portal.cases.queries import NUMBER_RE, page_arg
from portal.clock import as_utc, utcnow
from portal.errors import Conflict, DomainError, ValidationError
from portal.extensions import db
from portal.htmx import page_or_partial, redirect_to
from portal.labels import N_
from portal.notify.models import OutboxAttempt, OutboxMessage, UnitRobot
from portal.notify.outbox import hand_to_workers, retry_message
from portal.org.models import User
from portal.signing import audit
from portal.signing.models import AuditEvent

PAGE_SIZE = 50
# Retried by one press after an outage; more wait for the next press (one transaction each).
BULK_LIMIT = 200

# Labels of the outbox's stored codes (portal/notify/models.py lists the codes).
STATUS_LABELS = {
    "pending": N_("待发送"), "sending": N_("发送中"), "sent": N_("已发送"),
    "failed": N_("失败，待重试"), "dead": N_("已放弃"), "cancelled": N_("已取消"),
    "unread": N_("未读"), "read": N_("已读"),
}
CHANNEL_LABELS = {"email": N_("邮件"), "sms": N_("短信"), "robot": N_("群机器人"), "inapp": N_("站内消息"),
                  "webhook": N_("Webhook")}  # issue 14: an integration's endpoint (portal/webhooks)
KIND_LABELS = {
    "step": N_("环节通知"), "reminder": N_("时限提醒"), "escalation": N_("升级"),
    "hurry": N_("催办"), "customer": N_("告知顾客"), "cluster": N_("批号聚集预警"),
    "webhook": N_("系统对接事件"),
}
OUTCOME_LABELS = {"sent": N_("已发送"), "failed": N_("失败"), "dead": N_("失败，已放弃"),
                  "lost": N_("发送中进程丢失")}
# Filters beside the stored statuses: a pending row is either due (and should be going out
# now) or scheduled for later (a reminder written when its step began).
WHEN_LABELS = {"due": N_("到期未发"), "scheduled": N_("未到发送时间")}
# Only a message the workers gave up on, or are waiting to retry, may be sent again by hand:
# one pending or sending is on its way, one sent or cancelled is done.
RETRYABLE = ("failed", "dead")
# Pills: a failure stands out in red, a success in green.
STATUS_CLASS = {"sent": "state-closed", "read": "state-closed", "failed": "state-proposed",
                "dead": "klass-major", "cancelled": "state-rejected", "sending": "state-investigating"}


# ---------------------------------------------------------------- the outbox

@dataclass
class OutboxFilters:
    status: str = ""
    channel: str = ""
    kind: str = ""
    case: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "OutboxFilters":
        def pick(name, allowed):
            value = (args.get(name) or "").strip()
            return value if value in allowed else ""
        return cls(status=pick("status", {**STATUS_LABELS, **WHEN_LABELS}), channel=pick("channel", CHANNEL_LABELS),
                   kind=pick("kind", KIND_LABELS), case=(args.get("case") or "").strip()[:20],
                   page=page_arg(args))

    def as_args(self, **override) -> dict:
        d = {**vars(self), **override}
        return {k: v for k, v in d.items() if v not in ("", None) and not (k == "page" and v == 1)}

    @property
    def case_number(self) -> str:
        """The case number as stored: KS2026-12 is KS2026-000012, as in the case search."""
        if m := NUMBER_RE.match(self.case):
            return f"KS{m.group(1)}-{int(m.group(2)):06d}"
        return self.case.upper()


_ROWS = (sa.select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.channel, OutboxMessage.status,
                   OutboxMessage.address, OutboxMessage.subject, OutboxMessage.created_at,
                   OutboxMessage.send_after, OutboxMessage.attempts, OutboxMessage.last_attempt_at,
                   OutboxMessage.provider_response, OutboxMessage.sent_at,
                   User.name.label("recipient_name"), Case.number.label("case_number"),
                   UnitRobot.name.label("robot_name"))
         .outerjoin(User, User.id == OutboxMessage.recipient_id)
         .outerjoin(Case, Case.id == OutboxMessage.case_id)
         # A robot row's address is the robot's id; compared as text, as a cast of the other
         # rows' addresses (mail, phones) to a number would fail on PostgreSQL.
         .outerjoin(UnitRobot, sa.and_(OutboxMessage.channel == "robot",
                                       sa.cast(UnitRobot.id, sa.String) == OutboxMessage.address)))


def _filtered(q, f: OutboxFilters):
    if f.status == "due":
        q = q.where(OutboxMessage.status == "pending", OutboxMessage.send_after <= utcnow())
    elif f.status == "scheduled":
        q = q.where(OutboxMessage.status == "pending", OutboxMessage.send_after > utcnow())
    elif f.status:
        q = q.where(OutboxMessage.status == f.status)
    if f.channel:
        q = q.where(OutboxMessage.channel == f.channel)
    if f.kind:
        q = q.where(OutboxMessage.kind == f.kind)
    if f.case:
        q = q.where(OutboxMessage.case_id == sa.select(Case.id).where(Case.number == f.case_number)
                    .scalar_subquery())
    return q


def find_messages(f: OutboxFilters, page_size: int = PAGE_SIZE):
    """One page of messages, newest first, and whether there is a next page (no COUNT(*):
    the outbox grows by several rows per case step)."""
    q = _filtered(_ROWS, f)
    q = q.order_by(OutboxMessage.id.desc()).limit(page_size + 1).offset((f.page - 1) * page_size)
    rows = db.session.execute(q).all()
    return rows[:page_size], len(rows) > page_size


def trouble_counts() -> dict[str, int]:
    """How many messages failed, were given up, or are due and not yet sent: the numbers an
    operator looks for first (served by the status index; these rows are few when all is well)."""
    counts = dict(db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count())
        .where(OutboxMessage.status.in_(("failed", "dead"))).group_by(OutboxMessage.status)).all())
    counts["due"] = db.session.execute(
        sa.select(sa.func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.send_after <= utcnow())).scalar_one()
    return counts


def oldest_due() -> datetime | None:
    """When the longest-waiting due message should have gone out (a growing wait: no one sends)."""
    return as_utc(db.session.execute(
        sa.select(sa.func.min(OutboxMessage.send_after))
        .where(OutboxMessage.status == "pending", OutboxMessage.send_after <= utcnow())).scalar())


def _retry_audited(actor: User, msg: OutboxMessage) -> bool:
    """Back to the workers with a fresh round of attempts, and an audit event saying who asked
    (in the caller's transaction). The update itself checks the status, so of two admins
    pressing at once, or an admin and a worker taking its scheduled retry, one wins."""
    before = {"status": msg.status, "attempts": msg.attempts,
              "provider_response": msg.provider_response}
    if msg.status not in RETRYABLE or not retry_message(msg.id):
        return False
    db.session.refresh(msg)
    audit.record("outbox_retried", actor=actor, object_type="outbox_message", object_id=msg.id,
                 before=before, after={"status": msg.status, "channel": msg.channel,
                                       "case_id": msg.case_id})
    return True


def retry_outbox_message(actor: User, message_id: int) -> OutboxMessage:
    """Send a failed or given-up message again, now (its earlier attempts stay on record), with
    its audit event, in one transaction. The caller hands it to a worker after the commit
    (the sweep sends it anyway)."""
    msg = db.session.get(OutboxMessage, message_id) or abort(404)
    if not _retry_audited(actor, msg):
        db.session.rollback()
        msg = db.session.get(OutboxMessage, message_id)
        raise Conflict(_("这条消息的状态是「%(status)s」，只有发送失败或已放弃的消息可以重发。",
                         status=_(STATUS_LABELS.get(msg.status, msg.status))))
    db.session.commit()
    return msg


def retry_outbox_messages(actor: User, f: OutboxFilters) -> list[int]:
    """After an outage: every failed or given-up message the filters select (the oldest
    BULK_LIMIT of them), each with its audit event, in one transaction. Returns their ids."""
    if f.status not in RETRYABLE:
        raise ValidationError(_("请先筛选出发送失败或已放弃的消息，再全部重发。"))
    ids = db.session.execute(_filtered(sa.select(OutboxMessage.id), f)
                             .order_by(OutboxMessage.id).limit(BULK_LIMIT)).scalars().all()
    done = [m.id for m in db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                             .order_by(OutboxMessage.id)).scalars()
            if _retry_audited(actor, m)]
    if not done:
        db.session.rollback()
        raise Conflict(_("没有可以重发的消息：筛选出的消息已不是发送失败或已放弃。"))
    db.session.commit()
    return done


@bp.route("/outbox")
@admin_only
def outbox():
    """One URL for the page and for the filtered rows (htmx asks for the rows alone)."""
    f = OutboxFilters.from_args(request.args)
    rows, has_next = find_messages(f)
    missing_case = bool(f.case) and not db.session.execute(
        sa.select(Case.id).where(Case.number == f.case_number)).first()
    return page_or_partial("admin/outbox.html", "admin/_outbox_rows.html", f=f, rows=rows,
                           has_next=has_next, missing_case=missing_case, labels=_labels(),
                           counts=trouble_counts(), bulk_limit=BULK_LIMIT)


@bp.route("/outbox/<int:message_id>")
@admin_only
def outbox_message(message_id: int):
    msg = db.session.get(OutboxMessage, message_id) or abort(404)
    return _render_message(msg)


def _render_message(msg: OutboxMessage, message: str | None = None, status: int = 200):
    case = db.session.get(Case, msg.case_id) if msg.case_id else None
    robot = (db.session.get(UnitRobot, int(msg.address))
             if msg.channel == "robot" and (msg.address or "").isdigit() else None)
    attempts = db.session.execute(sa.select(OutboxAttempt).where(OutboxAttempt.message_id == msg.id)
                                  .order_by(OutboxAttempt.attempt, OutboxAttempt.id)).scalars().all()
    retries = db.session.execute(
        sa.select(AuditEvent.at, AuditEvent.actor_name)
        .where(AuditEvent.object_type == "outbox_message", AuditEvent.object_id == msg.id,
               AuditEvent.action == "outbox_retried").order_by(AuditEvent.seq)).all()
    return render_template("admin/outbox_message.html", msg=msg, case=case, robot=robot, attempts=attempts,
                           retries=retries, labels=_labels(), retryable=msg.status in RETRYABLE,
                           message=message), status


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@admin_only
def outbox_retry(message_id: int):
    try:
        msg = retry_outbox_message(current_user._get_current_object(), message_id)
    except DomainError as exc:
        db.session.rollback()
        msg = db.session.get(OutboxMessage, message_id) or abort(404)
        return _render_message(msg, exc.message, exc.status)
    hand_to_workers([msg.id])
    flash(_("已重新排队，稍后发送。"), "success")
    return redirect_to(url_for("admin.outbox_message", message_id=msg.id))


@bp.route("/outbox/retry", methods=["POST"])
@admin_only
def outbox_retry_all():
    """The filters come with the form, so what is retried is what the page listed."""
    f = OutboxFilters.from_args(request.form)
    try:
        ids = retry_outbox_messages(current_user._get_current_object(), f)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect_to(url_for("admin.outbox", **f.as_args(page=1)))
    hand_to_workers(ids)
    flash(_("已重新排队 %(n)s 条消息，稍后发送。", n=len(ids)), "success")
    return redirect_to(url_for("admin.outbox", **f.as_args(page=1)))


def _labels() -> dict:
    return {"status": STATUS_LABELS, "when": WHEN_LABELS, "channel": CHANNEL_LABELS, "kind": KIND_LABELS,
            "outcome": OUTCOME_LABELS, "status_class": STATUS_CLASS}


# ---------------------------------------------------------------- RQ queues and workers

# The portal's queues (jobs/cron.py, portal/notify/outbox.py): shown even when empty.
KNOWN_QUEUES = ("notify", "default")
FAILED_SHOWN = 10  # per queue, newest first
WORKER_STATE_LABELS = {"idle": N_("空闲"), "busy": N_("忙碌"), "started": N_("启动中"),
                       "suspended": N_("已暂停")}
JOB_STATUS_LABELS = {"queued": N_("排队中"), "started": N_("执行中"), "finished": N_("已完成"),
                     "failed": N_("失败"), "scheduled": N_("已排定"), "deferred": N_("等待依赖"),
                     "stopped": N_("已停止"), "canceled": N_("已取消")}


@dataclass
class FailedJob:
    id: str
    call: str
    ended_at: datetime | None
    error: str  # the exception's last line
    traceback: str


@dataclass
class QueueState:
    name: str
    queued: int
    started: int
    scheduled: int
    failed: int
    failed_jobs: list[FailedJob]


@dataclass
class WorkerState:
    name: str
    hostname: str
    pid: int | None
    state: str
    queues: list[str]
    current_job: str | None
    last_heartbeat: datetime | None
    successful: int
    failed: int


@dataclass
class CronState:
    hostname: str
    pid: int | None
    last_heartbeat: datetime | None
    jobs: list[dict]  # func, cron, last and next enqueue, the last run's status


def _utc(value) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _failed_jobs(q, connection) -> list[FailedJob]:
    from rq.job import Job
    ids = q.failed_job_registry.get_job_ids(0, FAILED_SHOWN - 1, desc=True)
    out = []
    for job in Job.fetch_many(ids, connection=connection):
        if job is None:  # expired between the two reads
            continue
        result = job.latest_result()
        tb = (result.exc_string if result is not None else None) or ""
        out.append(FailedJob(id=job.id, call=job.description or job.func_name or job.id,
                             ended_at=_utc(job.ended_at), error=_last_line(tb), traceback=tb))
    return out


def queue_states(connection) -> list[QueueState]:
    from rq import Queue
    names = list(KNOWN_QUEUES) + sorted({q.name for q in Queue.all(connection=connection)}
                                        - set(KNOWN_QUEUES))
    states = []
    for name in names:
        q = Queue(name, connection=connection)
        states.append(QueueState(
            name=name, queued=q.count, started=q.started_job_registry.count,
            scheduled=q.scheduled_job_registry.count, failed=q.failed_job_registry.count,
            failed_jobs=_failed_jobs(q, connection)))
    return states


def worker_states(connection) -> list[WorkerState]:
    from rq import Worker
    out = []
    for w in sorted(Worker.all(connection=connection), key=lambda w: w.name):
        job = w.get_current_job()
        out.append(WorkerState(
            name=w.name, hostname=w.hostname or "", pid=w.pid, state=w.get_state(),
            queues=w.queue_names(), current_job=(job.description or job.id) if job else None,
            last_heartbeat=_utc(w.last_heartbeat), successful=w.successful_job_count,
            failed=w.failed_job_count))
    return out


def cron_states(connection) -> list[CronState]:
    """`rq cron`: when it last showed signs of life, and when each periodic job last went in
    the queue and how that run ended."""
    from rq.cron import CronScheduler, get_cron_job_ids
    from rq.job import Job
    out = []
    for s in CronScheduler.all(connection):
        jobs = []
        for cj in s.get_jobs():
            last_ids = get_cron_job_ids(cj.name, connection, 0, 0)
            last = Job.fetch_many(last_ids, connection=connection)[0] if last_ids else None
            jobs.append({"func": cj.func_name, "cron": cj.cron or "", "queue": cj.queue_name,
                         "last": _utc(cj.latest_enqueue_time), "next": _utc(cj.next_enqueue_time),
                         "last_status": last.get_status(refresh=False).value if last else None})
        out.append(CronState(hostname=s.hostname or "", pid=s.pid, last_heartbeat=_utc(s.last_heartbeat),
                             jobs=jobs))
    return out


@bp.route("/queues")
@admin_only
def queues():
    """What the workers are doing. Redis is asked directly, with the web's short timeouts: when
    it does not answer, the page says so instead of failing."""
    from portal.queues import redis
    error = None
    queues_, workers, crons = [], [], []
    try:
        connection = redis()
        queues_, workers, crons = queue_states(connection), worker_states(connection), cron_states(connection)
    except (RedisError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return render_template("admin/queues.html", error=error, queues=queues_, workers=workers,
                           crons=crons, counts=trouble_counts(), oldest_due=oldest_due(),
                           worker_labels=WORKER_STATE_LABELS, job_labels=JOB_STATUS_LABELS,
                           now=utcnow())
