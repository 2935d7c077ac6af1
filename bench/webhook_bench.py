"""Webhook fan-out figure (issue 14): 1,000 case state changes, each an event for 3 receivers
(3,000 signed deliveries), delivered by two `rq worker` processes (jobs.worker.PortalWorker, as
`make run` starts them) through the real path: the operation writes one outbox row per endpoint
in its transaction, hand_to_workers after commit, the worker claims, POSTs signed over a
kept-alive connection per receiver, records each attempt.

    .venv/bin/python bench/webhook_bench.py [--changes 1000] [--receivers 3] [--workers 2] [--db URL]

Setup (not timed): its own PostgreSQL database (default portal_webhook_bench: created, migrated,
seeded), Redis database 8 (BENCH_REDIS_URL, flushed), changes/2 cases registered before the
endpoints exist. Then, timed, the bench process runs the state changes one after the other
through portal.cases.operations as the desk does: verify (new -> verified) and dispatch
(verified -> investigating), each one transaction with its audit event and its 3 outbox rows.
Each receiver (a ThreadingHTTPServer, HTTP/1.1, in a process of its own) verifies every
signature with portal.webhooks.signing.verify and notes the arrival time.

Reports: the time from the first and from the last commit to the last delivery, the lag of each
delivery (arrival - the event's occurred_at, which is its commit) p50/p95/max, deliveries that
were duplicates or failed their signature check, and the outbox rows' statuses. Target: all
3,000 delivered within 10 s of the last commit, none twice, every signature valid.
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

DEFAULT_DB = "postgresql://postgres@127.0.0.1/portal_webhook_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"
TARGET_SECONDS = 10.0


def receiver_process(port: int, secret: str, arrivals, ready) -> None:
    """Answers 200 to every POST; puts (delivery id, arrival unix time, occurred_at, verified)."""
    import json
    from datetime import datetime
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from portal.webhooks import signing

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # As production servers do (nginx, gunicorn): the answer's two writes would otherwise
        # wait for the sender's delayed ACK, ~40 ms per request on a kept-alive connection.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = time.time()
            ok = signing.verify(secret, self.headers.get(signing.HEADER_TIMESTAMP), body,
                                self.headers.get(signing.HEADER_SIGNATURE))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            payload = json.loads(body)
            occurred = datetime.fromisoformat(payload["occurred_at"]).timestamp()
            arrivals.put((port, self.headers.get(signing.HEADER_DELIVERY), now, occurred, ok))

    server = ThreadingHTTPServer((benchlib.HOST, port), Handler)
    server.daemon_threads = True
    ready.set()
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(SystemExit(0)))
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--receivers", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", default=os.environ.get("BENCH_WEBHOOK_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--burst", action="store_true",
                        help="workers suspended (rq suspend) while the changes commit, their jobs queue as "
                             "usual; the clock runs from `rq resume` to the last delivery (the backlog figure)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                        help="first wait up to S seconds for the machine to go quiet")
    args = parser.parse_args()
    quiet = benchlib.wait_quiet(args.wait_quiet) if args.wait_quiet else None

    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    env = {**benchlib.app_env(args.db), "REDIS_URL": redis_url, "SMS_PROVIDER": "outbox"}
    env.pop("MAIL_SERVER", None)  # mail stays in the outbox: only the webhooks go out
    for key in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "PORTAL_INSTANCE", "UPLOAD_DIR",
                "PDF_CACHE_DIR", "TZ", "SMS_PROVIDER"):
        os.environ[key] = env[key]
    os.environ.pop("MAIL_SERVER", None)
    sys.path.insert(0, str(benchlib.APP_ROOT))
    benchlib.ensure_database(args.db)

    import sqlalchemy as sa
    from flask_migrate import upgrade
    from redis import Redis

    from portal import create_app
    from portal.cases import operations as ops
    from portal.cases.enums import CustomerType, Kind, Klass, Validity
    from portal.cases.models import Case, Category
    from portal.extensions import db
    from portal.notify.models import OutboxMessage
    from portal.org.models import OrgUnit, User
    from portal.seed import seed_demo
    from portal.webhooks import operations as hooks
    from portal.webhooks.models import WebhookEndpoint

    Redis.from_url(redis_url).flushdb()
    app = create_app()
    run = int(time.time())
    ports = [benchlib.free_port() for _ in range(args.receivers)]
    with app.app_context():
        upgrade(directory=str(benchlib.APP_ROOT / "portal" / "migrations"))
        seed_demo()
        one = lambda model, **kw: db.session.execute(sa.select(model).filter_by(**kw)).unique().scalar_one()  # noqa: E731
        desk, rep, admin = one(User, username="desk"), one(User, username="rep_cd"), one(User, username="admin")
        category_id = one(Category, code="quality.taste").id
        unit_id = one(OrgUnit, code="PROD1").id
        for old in db.session.execute(sa.select(WebhookEndpoint).where(WebhookEndpoint.active)).scalars().all():
            old.active = False  # earlier runs' endpoints hear nothing of this one
        db.session.commit()
        n_cases = (args.changes + 1) // 2
        numbers = []
        for i in range(n_cases):  # not timed: no endpoint exists yet, so no event
            case = ops.register_case(rep, {
                "customer_name": "王秀英", "customer_phone": f"139{run % 10000:04d}{i:04d}",
                "customer_address": "成都市武侯区", "region": "四川", "customer_type": CustomerType.CONSUMER,
                "product_id": None, "product_name": "三鲜水饺", "product_spec": "500g/袋",
                "batch_no": "2026090110100", "production_date": None, "quantity": 1,
                "purchase_place": "红旗超市", "purchase_date": None, "description": f"基准测试第 {i} 件：口味异常",
                "demand": "退货", "urgent": False, "threatens_media": False}, [])
            numbers.append(case.number)
        endpoints = [hooks.add_endpoint(admin, name=f"bench-{run}-{n}", url=f"http://{benchlib.HOST}:{port}/hook",
                                        events=["case.state_changed"]) for n, port in enumerate(ports)]
        secrets = [e.secret for e in endpoints]
        endpoint_ids = [str(e.id) for e in endpoints]
        db.session.remove()
    # The setup's own jobs (the registrations' step mails, outbox-only here) are not measured.
    Redis.from_url(redis_url).flushdb()

    arrivals = multiprocessing.Queue()
    receivers = []
    for port, secret in zip(ports, secrets):
        ready = multiprocessing.Event()
        proc = multiprocessing.Process(target=receiver_process, args=(port, secret, arrivals, ready), daemon=True)
        proc.start()
        ready.wait(10)
        receivers.append(proc)

    log_path = benchlib.OUT / "webhook_bench_workers.log"
    log = open(log_path, "w")
    workers = [subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--worker-class", "jobs.worker.PortalWorker",
         "--url", redis_url, "--name", f"webhook-bench-{n}-{run}", "notify"],
        cwd=benchlib.APP_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0)
        for n in range(args.workers)]
    expected = args.changes * args.receivers
    seen = []
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

        def drain(block_until=None):
            while True:
                try:
                    seen.append(arrivals.get(timeout=0.05 if block_until else 0.001))
                except Exception:  # noqa: BLE001 - queue.Empty
                    if block_until is None or time.time() > block_until or len(seen) >= expected:
                        return

        commit_times = []
        if args.burst:
            from rq.suspension import resume, suspend
            suspend(conn)
        with app.app_context():
            desk = db.session.execute(sa.select(User).filter_by(username="desk")).unique().scalar_one()
            first_commit = None
            changes = 0
            t_ops = time.monotonic()
            for number in numbers:
                case = db.session.execute(sa.select(Case).where(Case.number == number)).scalar_one()
                for move in ("verify", "dispatch"):
                    if changes >= args.changes:
                        break
                    if move == "verify":
                        ops.verify_case(case, desk, case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                                        klass=Klass.GENERAL, category_id=category_id)
                    else:
                        ops.dispatch_case(case, desk, case.version, unit_id=unit_id)
                    now = time.time()
                    first_commit = first_commit or now
                    commit_times.append(now)
                    changes += 1
                db.session.expunge(case)
                drain()
            ops_seconds = time.monotonic() - t_ops
            last_commit = time.time()
        resumed = None
        if args.burst:
            drain()
            resumed = time.time()
            resume(conn)  # the workers look again within a second
        drain(block_until=last_commit + args.timeout)
        time.sleep(1)  # anything sent twice arrives now
        drain()
        with app.app_context():
            statuses = dict(db.session.execute(
                sa.select(OutboxMessage.status, sa.func.count())
                .where(OutboxMessage.channel == "webhook", OutboxMessage.address.in_(endpoint_ids))
                .group_by(OutboxMessage.status)).all())
        ids = [s[1] for s in seen]
        last_arrival = max((s[2] for s in seen), default=None)
        lags = [s[2] - s[3] for s in seen]
        after_last = round(last_arrival - last_commit, 3) if last_arrival else None
        result = {
            "changes": changes, "receivers": args.receivers, "workers": args.workers,
            "expected_deliveries": expected, "received": len(seen), "distinct": len(set(ids)),
            "duplicates": len(ids) - len(set(ids)), "bad_signatures": sum(1 for s in seen if not s[4]),
            "state_changes_seconds": round(ops_seconds, 3),
            "state_changes_per_second": round(changes / ops_seconds, 1) if ops_seconds else None,
            "first_commit_to_last_delivery_s": round(last_arrival - first_commit, 3) if last_arrival else None,
            "last_commit_to_last_delivery_s": after_last,
            "lag_ms": benchlib.summary_ms(lags) if lags else None,
            "burst": args.burst, "delivered_before_resume": sum(1 for x in seen if resumed and x[2] < resumed),
            "resume_to_last_delivery_s": round(last_arrival - resumed, 3) if resumed and last_arrival else None,
            "target_seconds_after_last_commit": TARGET_SECONDS,
            "met": (len(set(ids)) == expected and len(ids) == expected and after_last is not None
                    and (last_arrival - (resumed or last_commit)) <= TARGET_SECONDS and all(s[4] for s in seen)),
            "row_statuses": statuses, "quiet_wait": quiet,
            "machine": benchlib.machine_conditions(), "busiest_processes": benchlib.top_other_processes(),
            "command": " ".join(["bench/webhook_bench.py", *sys.argv[1:]]),
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
        for proc in receivers:
            proc.terminate()
            proc.join(5)
        log.close()
        Redis.from_url(redis_url).flushdb()
    path = benchlib.save_json("webhook_bench.json", result)
    lag = result.get("lag_ms") or {}
    print(f"{result['distinct']}/{result['expected_deliveries']} deliveries ({result['duplicates']} twice, "
          f"{result['bad_signatures']} bad signatures) of {result['changes']} state changes to "
          f"{result['receivers']} receivers by {result['workers']} workers; changes took "
          f"{result['state_changes_seconds']} s; last delivery {result['last_commit_to_last_delivery_s']} s after "
          f"the last commit ({result['first_commit_to_last_delivery_s']} s after the first"
          + (f"; {result['resume_to_last_delivery_s']} s after rq resume" if args.burst else "") + "); lag p50 "
          f"{lag.get('p50')} ms, p95 {lag.get('p95')} ms (target: all within {TARGET_SECONDS:g} s: "
          f"{'met' if result['met'] else 'NOT met'}); {path}")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
