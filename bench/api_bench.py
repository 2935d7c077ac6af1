"""Figure: POST /api/v1/cases (issue 14) — an integration registering complaints, without files
and with one ~3 MB phone photo — beside the shared ceiling measured in the same run.

    python bench/api_bench.py --database-url postgresql://postgres@127.0.0.1/portal_bench

Both servers run under the SAME gunicorn settings as ratio_bench.py and ../shared/bench-ceiling
(`--workers 2 --worker-class sync`), ONE SERVER AT A TIME: ceiling, portal, ceiling. The portal
is `serve:portal_app()` (the production app plus a `Server-Timing` header: wall and CPU time in
the app, upload reading included); the ceiling is its `app:app` from its own folder.

Measured, on one keep-alive client after unmeasured warm-ups (every worker pays its first
create's lazy imports):
  ceiling    GET /cases (50 newest of 1M rows): the yardstick's sequential latency
  json       POST /api/v1/cases, JSON body (the OpenAPI document's example with a phone
             and a register batch of its own, a new Idempotency-Key per request) → 201
                                                                     target p95 ≤ 60 ms
  photo      the same as multipart: `data` (the JSON) + one `files` part, a 4000×3000
             JPEG of ~3 MB (bench/intake_bench.py's photo) → 201       target p95 ≤ 250 ms
and under closed-loop load (wrk -t2 -c4, bounded in time and count): the ceiling's GET and the
JSON create, each a new Idempotency-Key (a Lua counter). Ratios: the create's req/s ÷ the mean
of the ceiling runs before and after; the ceiling's p95 ÷ the create's p95.

A token is issued in-process through portal.api.tokens.issue_token (as the admin does; every
channel, branch and headquarters, the highest rate) and revoked at the end. Each run adds its
creates to the database as real cases (numbers continue the sequence); their uploaded files
are removed afterwards (--keep-uploads to keep), and the RQ jobs they enqueued are removed
from the bench's Redis database (BENCH_REDIS_URL, default database 6; no worker runs there).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid

os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")

import benchlib as B  # noqa: E402
from ratio_bench import CEILING_DB, CEILING_DIR, WORKERS, gunicorn_cmd, server  # noqa: E402

TARGETS = {"json": 60.0, "photo": 250.0}  # p95, ms (issue 14)
SERVER = B.ServerConfig(workers=WORKERS, worker_class="sync")

WRK_POST_LUA = r"""
-- POST the JSON create with a new Idempotency-Key per request; bounded per thread; JSON report.
local max_requests = tonumber(os.getenv("WRK_MAX_PER_THREAD") or "1000000")
-- BODIES (a table of JSON strings, one customer and batch each) is prepended by api_bench.py.
local token = os.getenv("API_TOKEN")
local run = os.getenv("API_RUN")
local threads, next_id = {}, 0
function setup(thread) thread:set("tid", next_id); next_id = next_id + 1; table.insert(threads, thread) end
function init(args) count = 0; bad = 0; sent = 0 end
function request()
  sent = sent + 1
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json", ["Idempotency-Key"] = run .. "-" .. tid .. "-" .. sent},
    BODIES[((tid * 7919 + sent) % #BODIES) + 1])
end
function response(status, headers, body)
  count = count + 1
  if status ~= 201 then bad = bad + 1 end
  if count >= max_requests then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + (t:get("bad") or 0) end
  io.write("WRKJSON ", string.format(
    '{"requests": %d, "duration_us": %d, "errors_socket": %d, "non200": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, "bytes": %d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    bad_total, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, summary.bytes))
end
"""


# ---------------------------------------------------------------- the token and the body

def issue_token(db_url: str) -> tuple[int, str, dict]:
    """A token as the admin issues it, and the create body the OpenAPI document gives as example."""
    B.use_app_root()
    os.environ["DATABASE_URL"] = B.sa_url(db_url)
    import sqlalchemy as sa
    from portal import create_app
    from portal.api.openapi import document
    from portal.api.tokens import API_CHANNELS, MAX_RATE, issue_token as issue
    from portal.extensions import db
    from portal.org.enums import UnitKind
    from portal.org.models import OrgUnit, User
    app = create_app()
    with app.app_context():
        admin = db.session.execute(sa.select(User).where(User.username == "admin")).unique().scalar_one()
        branches = list(db.session.scalars(sa.select(OrgUnit.id).where(OrgUnit.kind == UnitKind.BRANCH)))
        row, plain = issue(admin, {"name": f"性能测试 {time.strftime('%m-%d %H:%M')}",
                                   "channels": [c.value for c in API_CHANNELS], "branch_ids": branches,
                                   "hq": True, "rate_per_minute": MAX_RATE})
        with app.test_request_context():
            example = document()["components"]["schemas"]["CaseCreate"]["example"]
        return row.id, plain, example


def revoke_token(db_url: str, token_id: int) -> None:
    import sqlalchemy as sa
    from portal import create_app
    from portal.api.models import ApiToken
    from portal.api.tokens import revoke_token as revoke
    from portal.extensions import db
    from portal.org.models import User
    app = create_app()
    with app.app_context():
        admin = db.session.execute(sa.select(User).where(User.username == "admin")).unique().scalar_one()
        revoke(admin, db.session.get(ApiToken, token_id))


def bodies(db_url: str, example: dict, n: int, seed: int) -> list[dict]:
    """n create bodies: the document's example, each with its own customer phone and a batch of
    the register (with its product), as different integrations' complaints are.

    A batch is taken at most once per run and only while it has fewer than (the cluster rule's
    min_cases − 1) cases in its window, so no create completes a batch cluster: a cluster's
    notices are a rare event's cost, and drawing batches at random made them more frequent with
    every run (one phone and one batch for all made every create a repeat in one cluster of
    2,500 cases). The phones are new per run (seed)."""
    import psycopg
    import random
    rng = random.Random(seed)
    with psycopg.connect(B.pg_url(db_url)) as conn:
        rule = conn.execute("SELECT min_cases, window_days FROM cluster_rule LIMIT 1").fetchone() or (3, 30)
        batches = conn.execute("""
            SELECT b.batch_no, p.name, p.spec FROM batch b JOIN product p ON p.id = b.product_id
             WHERE (SELECT count(*) FROM "case" c WHERE c.batch_no = b.batch_no
                     AND c.received_at > now() - make_interval(days => %s)) < %s
             ORDER BY b.id""", (rule[1], rule[0] - 1)).fetchall()
    rng.shuffle(batches)
    if len(batches) < n:
        print(f"  note: {len(batches)} batches without recent cases for {n} bodies; the rest have no batch",
              flush=True)
    out = []
    for i in range(n):
        batch_no, name, spec = batches[i] if i < len(batches) else (None, example.get("product_name"), None)
        out.append({**example, "customer_phone": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
                    "batch_no": batch_no, "product_name": name, "product_spec": spec})
    return out


# The tables a create writes. This machine's PostgreSQL runs with autovacuum off, so their
# statistics are as old as the last ANALYZE: after a few thousand creates the planner still
# thinks case_timer has no pending timers and reads all of them through the partial index
# ix_case_timer_pending to find ten by id (13 ms a create, growing). Production's autovacuum
# keeps them current; the bench does it by hand before it measures.
WRITTEN_TABLES = ("case_timer", "outbox_message", "case_term", "report_month", "api_idempotency", "api_call",
                  "audit_event", "batch_cluster", "batch_cluster_case", "case_link", "api_token", '"case"')


def analyze(db_url: str) -> float:
    import psycopg
    t0 = time.monotonic()
    with psycopg.connect(B.pg_url(db_url), autocommit=True) as conn:
        for table in WRITTEN_TABLES:
            conn.execute(f"ANALYZE {table}")
    return time.monotonic() - t0


# ---------------------------------------------------------------- measuring

def sequential(client: B.Client, send, n: int, warm: int, expect: int, max_seconds: float) -> dict:
    client_s, server_s, cpu_s = [], [], []
    deadline = time.monotonic() + max_seconds
    for i in range(warm + n):
        if time.monotonic() > deadline:
            break
        r = send(i)
        if r.status != expect:
            raise RuntimeError(f"HTTP {r.status} (expected {expect}): {r.text[:400]}")
        if i >= warm:
            client_s.append(r.seconds)
            if r.server_ms is not None:
                server_s.append(r.server_ms / 1000)
                cpu_s.append(r.server_cpu_ms / 1000)
    out = {"client": B.summary_ms(client_s)}
    if server_s:
        out["server"], out["server_cpu"] = B.summary_ms(server_s), B.summary_ms(cpu_s)
    return out


def multipart(fields: list[tuple[str, str, str]], files: list[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    boundary = "----portalapibench" + os.urandom(8).hex()
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\nContent-Type: {ctype}\r\n\r\n'
             .encode() + value.encode() + b"\r\n" for name, value, ctype in fields]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
              f'Content-Type: {ctype}\r\n\r\n'.encode() + data + b"\r\n" for name, filename, data, ctype in files]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def wrk_post(url: str, token: str, bodies: list[dict], duration: int, max_requests: int, pids) -> dict:
    script = B.OUT / "wrk_api_post.lua"
    table = ",\n".join("[==[" + json.dumps(b, ensure_ascii=False) + "]==]" for b in bodies)
    script.write_text("BODIES = {\n" + table + "\n}\n" + WRK_POST_LUA, encoding="utf-8")
    env = {**os.environ, "WRK_MAX_PER_THREAD": str(max(1, max_requests // 2)), "API_TOKEN": token,
           "API_RUN": "bench-" + uuid.uuid4().hex[:12]}
    import subprocess
    with B.CpuWatch(pids) as watch:
        out = subprocess.run(["wrk", "-t2", "-c4", f"-d{duration}s", "--latency", "--timeout", "10s", "-s", str(script),
                              "-H", f"User-Agent: {B.USER_AGENT}", url], capture_output=True, text=True, env=env,
                             timeout=duration + 60).stdout
    line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError("wrk gave no report:\n" + out)
    r = json.loads(line[len("WRKJSON "):])
    secs = r["duration_us"] / 1e6
    res = {"requests": r["requests"], "seconds": secs, "rps": r["requests"] / secs if secs else 0,
           "p50": r["p50_us"] / 1000, "p95": r["p95_us"] / 1000, "p99": r["p99_us"] / 1000,
           "errors": r["errors_socket"], "not_201": r["non200"], "others_cores": round(watch.result["others_cores"], 2),
           "server_cpu_ms": watch.result["ours_cpu_s"] * 1000 / r["requests"] if r["requests"] else None}
    if res["not_201"] or res["errors"]:
        raise RuntimeError(f"POST under load: {res['not_201']} answers other than 201, {res['errors']} socket errors")
    return res


def run_ceiling(args, pg_pids) -> dict:
    port = B.free_port()
    env = {**os.environ, "CEILING_DATABASE_URL": CEILING_DB, "PYTHONDONTWRITEBYTECODE": "1"}
    with server("ceiling", gunicorn_cmd(port, CEILING_DIR, "app:app"), env, "/cases") as (base, proc):
        c = B.Client(base)
        seq = sequential(c, lambda i: c.get("/cases"), args.requests, args.warm, 200, args.max_seconds)
        c.close()
        load = B.wrk(base + "/cases", None, 4, args.duration, 40000, threads=2) \
            if args.duration else None
        if load:
            if load["non200"] or load["errors"]:
                raise RuntimeError("ceiling: failed answers under load")
            load["others_cores"] = None
    return {"sequential": seq, "load": load}


def run_portal(args, token: str, many: list[dict], photo: bytes, pg_pids) -> dict:
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    out = {}
    run_id = uuid.uuid4().hex[:10]
    # Each body (a customer and a batch) once: the JSON creates, the photo creates, then wrk's.
    photo_from = args.warm + args.requests
    load_from = photo_from + args.warm + args.photo_requests
    with B.gunicorn("serve:portal_app()", args.database_url, SERVER) as (base, proc):
        c = B.Client(base)

        def create_json(i):
            payload = json.dumps(many[i], ensure_ascii=False).encode()
            return c.request("POST", "/api/v1/cases", body=payload, headers={
                **auth, "Content-Type": "application/json", "Idempotency-Key": f"bench-{run_id}-j{i}"})

        def create_photo(i):
            data, ctype = multipart([("data", json.dumps(many[photo_from + i], ensure_ascii=False),
                                      "application/json")],
                                    [("files", f"IMG_20261202_0931{i % 10}.jpg", photo, "image/jpeg")])
            return c.request("POST", "/api/v1/cases", body=data, headers={
                **auth, "Content-Type": ctype, "Idempotency-Key": f"bench-{run_id}-p{i}"})

        with B.CpuWatch(lambda: B.worker_pids(proc) + pg_pids()) as watch:
            out["json"] = sequential(c, create_json, args.requests, args.warm, 201, args.max_seconds)
        out["json"]["others_cores"] = round(watch.result["others_cores"], 2)
        with B.CpuWatch(lambda: B.worker_pids(proc) + pg_pids()) as watch:
            out["photo"] = sequential(c, create_photo, args.photo_requests, args.warm, 201, args.max_seconds)
        out["photo"]["others_cores"] = round(watch.result["others_cores"], 2)
        out["photo"]["upload_bytes"] = len(photo)
        c.close()
        if args.duration:
            out["load"] = wrk_post(base + "/api/v1/cases", token, many[load_from:], args.duration, args.max_load_requests,
                                   lambda: B.worker_pids(proc) + pg_pids())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=B.DEFAULT_DB)
    ap.add_argument("--requests", type=int, default=200, help="measured JSON creates (and ceiling GETs)")
    ap.add_argument("--photo-requests", type=int, default=40, help="measured creates with one ~3 MB photo")
    ap.add_argument("--warm", type=int, default=10, help="unmeasured requests first, per figure")
    ap.add_argument("--duration", type=int, default=8, help="seconds per wrk run (0: no load runs)")
    ap.add_argument("--max-load-requests", type=int, default=1500,
                    help="creates per wrk run (upper bound: each is a case; the ceiling's GETs stop at 40,000)")
    ap.add_argument("--max-seconds", type=float, default=120, help="upper bound on each sequential loop")
    ap.add_argument("--wait-quiet", type=float, default=0, help="wait up to N s for the machine to go quiet first")
    ap.add_argument("--keep-uploads", action="store_true")
    ap.add_argument("--seed", type=int, help="phones and batches (default: the time, so no run repeats another's customers)")
    args = ap.parse_args(argv)
    if not (CEILING_DIR / "app.py").exists():
        print(f"the ceiling app is missing: {CEILING_DIR}/app.py", file=sys.stderr)
        return 2
    command = " ".join(["python", "bench/api_bench.py", *(argv if argv is not None else sys.argv[1:])])
    result = {"command": command, "args": vars(args), "server": f"gunicorn --workers {WORKERS} --worker-class sync",
              "load": f"wrk -t2 -c4 -d{args.duration}s", "redis": os.environ["BENCH_REDIS_URL"]}
    if args.wait_quiet:
        result["quiet"] = B.wait_quiet(args.wait_quiet)
    result["machine"] = B.machine_conditions()
    portal_db, ceiling_db = B.db_name(args.database_url), CEILING_DB.rsplit("/", 1)[1]

    def pg_pids():
        return B.postgres_pids(portal_db) + B.postgres_pids(ceiling_db)

    from intake_bench import photos
    photo = photos(1)[0]
    token_id, token, example = issue_token(args.database_url)
    result["seed"] = args.seed if args.seed is not None else int(time.time())
    many = bodies(args.database_url, example, 2 * args.warm + args.requests + args.photo_requests
                  + (args.max_load_requests if args.duration else 0), result["seed"])
    result["analyze_s"] = round(analyze(args.database_url), 1)
    updir = B.OUT / "uploads"
    uploads_before = {p for p in updir.rglob("*") if p.is_file()} if updir.exists() else set()
    print(f"{result['server']}, one server at a time: ceiling, portal, ceiling; photo "
          f"{len(photo) / 1048576:.2f} MB; token #{token_id}", flush=True)
    try:
        result["ceiling_before"] = run_ceiling(args, pg_pids)
        result["portal"] = run_portal(args, token, many, photo, pg_pids)
        result["ceiling_after"] = run_ceiling(args, pg_pids)
    finally:
        revoke_token(args.database_url, token_id)
        if not args.keep_uploads and updir.exists():
            removed = [p for p in updir.rglob("*") if p.is_file() and p not in uploads_before]
            for p in removed:
                p.unlink()
            result["uploads_removed"] = len(removed)
        import redis
        r = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
        keys = list(r.scan_iter("rq:*"))
        if keys:
            r.delete(*keys)
        result["rq_keys_removed"] = len(keys)

    cb, ca, p = result["ceiling_before"], result["ceiling_after"], result["portal"]
    ceiling_p95 = statistics.mean([cb["sequential"]["client"]["p95"], ca["sequential"]["client"]["p95"]])
    ratios = {k: ceiling_p95 / p[k]["client"]["p95"] for k in ("json", "photo")}
    if p.get("load"):
        ceiling_rps = statistics.mean([cb["load"]["rps"], ca["load"]["rps"]])
        ratios["json_rps"] = p["load"]["rps"] / ceiling_rps
    result["ratios"] = ratios
    result["met"] = {k: p[k]["client"]["p95"] <= TARGETS[k] for k in TARGETS}

    def line(name, fig, target=None):
        s = fig.get("server", {})
        text = (f"  {name:<28} client p50 {fig['client']['p50']:6.1f}  p95 {fig['client']['p95']:6.1f}  "
                f"p99 {fig['client']['p99']:6.1f} ms")
        if s:
            text += f" | server p95 {s['p95']:6.1f}, cpu p95 {fig['server_cpu']['p95']:6.1f} ms"
        if target:
            text += f"  (target p95 ≤ {target:.0f} ms: {'met' if fig['client']['p95'] <= target else 'NOT met'})"
        if fig.get("others_cores") is not None:
            text += f"  others {fig['others_cores']:.2f} cores"
        return text

    print(line("ceiling GET /cases, before", cb["sequential"]))
    print(line("API create, JSON", p["json"], TARGETS["json"]))
    print(line("API create, one 3 MB photo", p["photo"], TARGETS["photo"]))
    print(line("ceiling GET /cases, after", ca["sequential"]))
    if p.get("load"):
        print(f"  under load (wrk -t2 -c4 -d{args.duration}s): ceiling {cb['load']['rps']:.0f} / {ca['load']['rps']:.0f} "
              f"req/s; API create {p['load']['rps']:.0f} req/s (p95 {p['load']['p95']:.1f} ms, others "
              f"{p['load']['others_cores']:.2f} cores) = {ratios['json_rps']:.2f}× the ceiling")
    print(f"  ratios (ceiling p95 ÷ create p95): JSON {ratios['json']:.2f}×, photo {ratios['photo']:.2f}×")
    print(f"  command: {command}")
    path = B.save_json("api_bench.json", result)
    print(f"  → {path}")
    return 0 if all(result["met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
