"""Delivery figure (issue 11): emails per second from the outbox to a local SMTP sink with two
RQ workers, through the path a transition uses (rows committed, hand_to_workers after commit:
batches of JOB_BATCH rows per job, one SMTP connection per batch, each row claimed before it
is sent and its outcome committed with an OutboxAttempt as soon as the server answered).

    .venv/bin/python bench/outbox_bench.py [--messages 3000] [--workers 2] [--db URL]

Uses its own PostgreSQL database (default portal_outbox_bench, created, migrated and seeded
if missing) and Redis database (BENCH_REDIS_URL, default redis://127.0.0.1:6379/3, flushed
first). The sink (aiosmtpd) runs in a process of its own and counts what it accepts; the
clock runs from hand_to_workers until the sink has every mail. Also checks that each message
arrived exactly once and that every row is 'sent' after one attempt. Target: ≥ 300 emails/s.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1/portal_outbox_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/3"
TARGET_PER_SECOND = 300


def sink_process(port: int, count, ids, ready) -> None:
    """aiosmtpd on 127.0.0.1:port; counts accepted mails and keeps their Message-IDs."""
    import asyncio
    import re

    from aiosmtpd.controller import Controller

    pattern = re.compile(rb"^Message-ID: <outbox-(\d+)\.", re.M | re.I)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            found = pattern.search(envelope.original_content)
            ids.put(int(found.group(1)) if found else -1)
            with count.get_lock():
                count.value += 1
            return "250 2.0.0 Ok: queued"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    signal.sigwait({signal.SIGTERM})
    controller.stop()
    asyncio.set_event_loop(asyncio.new_event_loop())


def cpu_seconds(pids) -> float:
    """utime + stime + the waited-for children's (RQ's work-horses) of these processes."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", default=os.environ.get("BENCH_OUTBOX_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                        help="first wait up to S seconds for the machine to go quiet")
    args = parser.parse_args()
    quiet = benchlib.wait_quiet(args.wait_quiet) if args.wait_quiet else None

    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    port = benchlib.free_port()
    env = {**benchlib.app_env(args.db), "REDIS_URL": redis_url, "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(port), "SMS_PROVIDER": "outbox"}
    for key in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "PORTAL_INSTANCE", "UPLOAD_DIR",
                "PDF_CACHE_DIR", "TZ", "MAIL_SERVER", "MAIL_PORT"):
        os.environ[key] = env[key]
    sys.path.insert(0, str(benchlib.APP_ROOT))
    benchlib.ensure_database(args.db)

    import sqlalchemy as sa
    from flask_migrate import upgrade
    from redis import Redis

    from portal import create_app
    from portal.clock import utcnow
    from portal.extensions import db
    from portal.notify.models import OutboxAttempt, OutboxMessage
    from portal.notify.outbox import hand_to_workers
    from portal.org.models import User
    from portal.seed import seed_demo

    Redis.from_url(redis_url).flushdb()
    app = create_app()
    with app.app_context():
        upgrade(directory=str(benchlib.APP_ROOT / "portal" / "migrations"))
        seed_demo()
        db.session.execute(sa.delete(OutboxAttempt))
        db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.key.like("bench:%")))
        users = db.session.execute(sa.select(User.id, User.email)).all()
        now = utcnow()
        run = int(time.time())
        db.session.execute(sa.insert(OutboxMessage), [
            {"key": f"bench:{run}:{i}", "kind": "step", "channel": "email",
             "recipient_id": users[i % len(users)].id, "address": users[i % len(users)].email,
             "subject": f"【客诉】KS2026-{i:06d} 待您领导批示",
             "body": (f"投诉 KS2026-{i:06d}（刘晓燕，原味酸奶 200ml）等待您领导批示。\n"
                      "办理时限：2026-03-02 09:41。"),
             "send_after": now, "status": "pending", "attempts": 0, "retries_from": 0,
             "created_at": now} for i in range(args.messages)])
        db.session.commit()
        ids = db.session.execute(sa.select(OutboxMessage.id).where(
            OutboxMessage.key.like(f"bench:{run}:%")).order_by(OutboxMessage.id)).scalars().all()

    count = multiprocessing.Value("i", 0)
    received = multiprocessing.Queue()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=sink_process, args=(port, count, received, ready), daemon=True)
    sink.start()
    ready.wait(10)

    log_path = benchlib.OUT / "outbox_bench_workers.log"
    log = open(log_path, "w")
    workers = [subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--worker-class", "jobs.worker.PortalWorker",
         "--url", redis_url, "--name", f"bench-{n}-{run}", "notify"],
        cwd=benchlib.APP_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0)
        for n in range(args.workers)]
    result = {}
    try:
        from rq import Worker
        conn = Redis.from_url(redis_url)
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=conn)) < args.workers:
            if time.monotonic() > deadline:
                raise SystemExit(f"workers did not start; see {log_path}")
            time.sleep(0.2)
        time.sleep(1)  # past their start (app built, fonts warmed)

        dbn = benchlib.db_name(args.db)
        ours = lambda: [w.pid for w in workers] + [sink.pid] + benchlib.postgres_pids(dbn)  # noqa: E731
        with app.app_context(), benchlib.CpuWatch(ours) as cpu:
            pids = ours()
            cpu0 = cpu_seconds(pids)
            parts0 = {"workers": cpu_seconds([w.pid for w in workers]), "sink": cpu_seconds([sink.pid]),
                      "postgres": cpu_seconds(benchlib.postgres_pids(dbn))}
            t0 = time.monotonic()
            hand_to_workers(ids)
            handed = time.monotonic() - t0
            deadline = t0 + args.timeout
            while count.value < len(ids) and time.monotonic() < deadline:
                time.sleep(0.01)
            elapsed = time.monotonic() - t0
            used = cpu_seconds(pids) - cpu0
            parts = {"workers": cpu_seconds([w.pid for w in workers]), "sink": cpu_seconds([sink.pid]),
                     "postgres": cpu_seconds(benchlib.postgres_pids(dbn))}
        time.sleep(1)  # anything sent twice arrives now
        seen = []
        while not received.empty():
            seen.append(received.get())
        with app.app_context():
            statuses = dict(db.session.execute(
                sa.select(OutboxMessage.status, sa.func.count()).where(OutboxMessage.id.in_(ids))
                .group_by(OutboxMessage.status)).all())
            attempt_rows = db.session.execute(sa.select(sa.func.count()).select_from(OutboxAttempt)
                                              .where(OutboxAttempt.message_id.in_(ids))).scalar()
        per_second = count.value / elapsed if elapsed else 0
        result = {
            "messages": len(ids), "workers": args.workers, "received": count.value,
            "distinct_received": len(set(seen)), "duplicates": len(seen) - len(set(seen)),
            "seconds": round(elapsed, 3), "hand_to_workers_seconds": round(handed, 3),
            "emails_per_second": round(per_second, 1), "target_per_second": TARGET_PER_SECOND,
            "met": per_second >= TARGET_PER_SECOND and count.value == len(ids),
            # CPU of the workers (with their work-horses), the sink and the database backends
            # per mail, and what that would allow on this machine's cores with nothing else on it.
            "cpu_ms_per_email": round(1000 * used / max(count.value, 1), 2),
            "emails_per_second_if_cores_were_ours": round(os.cpu_count() * count.value / used, 1) if used else None,
            "cpu_ms_per_email_by_process": {k: round(1000 * (parts[k] - parts0[k]) / max(count.value, 1), 2)
                                             for k in parts},
            "row_statuses": statuses, "attempt_rows": attempt_rows, "cpu": cpu.result, "quiet_wait": quiet,
            "machine": benchlib.machine_conditions(), "busiest_processes": benchlib.top_other_processes(),
        }
    finally:
        for w in workers:
            try:
                os.killpg(w.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        os.kill(sink.pid, signal.SIGTERM)
        sink.join(5)
        log.close()
        Redis.from_url(redis_url).flushdb()
    path = benchlib.save_json("outbox_bench.json", result)
    print(f"{result['received']}/{result['messages']} mails in {result['seconds']} s with "
          f"{result['workers']} workers: {result['emails_per_second']} emails/s "
          f"(target ≥ {TARGET_PER_SECOND}: {'met' if result['met'] else 'NOT met'}); "
          f"duplicates {result['duplicates']}; rows {result['row_statuses']}; "
          f"{result['cpu_ms_per_email']} ms CPU per mail (→ {result['emails_per_second_if_cores_were_ours']}/s "
          f"on {os.cpu_count()} free cores); "
          f"others' CPU {result['cpu']['others_cores']:.2f} cores → {path}")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
