"""Figure: the case list at 1M cases under gunicorn: latency and load.

    python bench/list_bench.py --database-url postgresql://postgres@127.0.0.1/portal_bench

Starts the portal (`serve:portal_app()`), logs in, and measures:

- sequential latency (one keep-alive client, N requests): client round trip on loopback and
  the server's own time from the `Server-Timing` header;
- throughput and latency under closed-loop load with wrk (C connections, bounded by time and
  request count), R rounds.

Pages: desk's first page of 50 with default filters (sees everything), the same as an HTMX
partial, rep_cd's branch-scoped list, and desk filtered to state=closed & klass=major.
Target (issue 2): portal p95 ≤ 50 ms. The throughput ratio to a bare Flask page is
ratio_bench.py's figure (against ../shared/bench-ceiling, one server at a time).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import benchlib as B

PAGES = [  # name, user, path, headers, under load
    ("desk: /cases/ first page", "desk", "/cases/", {}, True),
    ("desk: /cases/ HTMX partial", "desk", "/cases/", {"HX-Request": "true"}, False),
    ("rep_cd: /cases/ (branch-scoped)", "rep_cd", "/cases/", {}, True),
    ("desk: state=closed & klass=major", "desk", "/cases/?state=closed&klass=major", {}, True),
]


def parse_config(text: str) -> B.ServerConfig:
    """sync:2 → 2 sync workers; gthread:2:4 → 2 workers with 4 threads."""
    parts = text.split(":")
    if parts[0] == "gthread":
        return B.ServerConfig(workers=int(parts[1]), worker_class="gthread", threads=int(parts[2]))
    return B.ServerConfig(workers=int(parts[1]), worker_class=parts[0])


def sequential(client: B.Client, path: str, n: int, headers: dict, max_seconds: float) -> dict:
    client_s, server_ms, cpu_ms, sizes = [], [], [], []
    deadline = time.monotonic() + max_seconds
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        r = client.get(path, headers=headers)
        if r.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {r.status}")
        client_s.append(r.seconds)
        sizes.append(len(r.body))
        if r.server_ms is not None:
            server_ms.append(r.server_ms / 1000)
            cpu_ms.append(r.server_cpu_ms / 1000)
    out = {"client": B.summary_ms(client_s), "server": B.summary_ms(server_ms), "server_cpu": B.summary_ms(cpu_ms),
           "bytes": int(statistics.median(sizes)) if sizes else 0}
    return out


def load(base: str, path: str, cookie: str | None, args, pids_fn, headers=None) -> dict:
    with B.CpuWatch(pids_fn) as watch:
        r = B.wrk(base + path, cookie, args.connections, args.duration, args.max_requests,
                  threads=min(2, args.connections), extra_headers=headers)
    r["cpu"] = watch.result
    # Server CPU (gunicorn + PostgreSQL backends) per request: what throughput would be on a
    # machine where nothing else (the load client included) competes for the cores.
    r["server_cpu_ms_per_req"] = watch.result["ours_cpu_s"] * 1000 / r["requests"] if r["requests"] else None
    return r


def sweep(args) -> B.ServerConfig:
    """Short runs of the desk list under several gunicorn settings; the fastest wins."""
    results = []
    for text in args.sweep_configs.split(","):
        cfg = parse_config(text)
        with B.gunicorn("serve:portal_app()", args.database_url, cfg) as (base, proc):
            c = B.Client(base).login("desk")
            for _ in range(30):
                c.get("/cases/")
            r = B.wrk(base + "/cases/", B.cookie_header(c), args.connections, args.sweep_seconds,
                      args.max_requests, threads=min(2, args.connections))
        print(f"  sweep {cfg}: {r['rps']:.0f} req/s, p95 {r['p95']:.1f} ms", flush=True)
        results.append((r["rps"], text, cfg, r))
    results.sort(key=lambda x: -x[0])
    return results[0][2], [(t, round(rps, 1), round(r["p95"], 1)) for rps, t, _, r in results]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=B.DEFAULT_DB)
    ap.add_argument("--config", default="sync:3", help="gunicorn workers: sync:N or gthread:N:T (see README for the choice)")
    ap.add_argument("--sweep", action="store_true", help="try --sweep-configs first and use the fastest")
    ap.add_argument("--sweep-configs", default="sync:2,sync:3,sync:4,gthread:2:2,gthread:2:4")
    ap.add_argument("--sweep-seconds", type=int, default=6)
    ap.add_argument("--sequential", type=int, default=300, help="requests per page, one client")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--duration", type=int, default=12, help="seconds per wrk run (upper bound)")
    ap.add_argument("--max-requests", type=int, default=30000, help="requests per wrk run (upper bound)")
    ap.add_argument("--rounds", type=int, default=3, help="load runs of the desk list")
    args = ap.parse_args(argv)

    result = {"machine": B.machine_conditions(), "args": vars(args)}
    print(f"machine: {result['machine']}", flush=True)
    cfg = parse_config(args.config)
    if args.sweep:
        cfg, result["sweep"] = sweep(args)
        print(f"chosen: {cfg}", flush=True)
    result["server"] = str(cfg)
    dbn = B.db_name(args.database_url)

    with B.gunicorn("serve:portal_app()", args.database_url, cfg) as (portal, pproc):
        def pids():
            return B.worker_pids(pproc) + B.postgres_pids(dbn)

        clients = {u: B.Client(portal).login(u) for u in {p[1] for p in PAGES}}
        # Warm: imports, template compilation, connection pools, PostgreSQL's cache.
        for _ in range(40):
            for name, user, path, headers, _ in PAGES:
                clients[user].get(path, headers=headers)

        result["sequential"] = {}
        for name, user, path, headers, _ in PAGES:
            result["sequential"][name] = sequential(clients[user], path, args.sequential, headers, 60)
            s = result["sequential"][name]
            print(f"  {name:<36} client p50 {s['client']['p50']:.1f} p95 {s['client']['p95']:.1f} "
                  f"p99 {s['client']['p99']:.1f} ms | server p50 {s['server']['p50']:.1f} "
                  f"p95 {s['server']['p95']:.1f} cpu p50 {s['server_cpu']['p50']:.1f} ms | {s['bytes']} bytes", flush=True)

        # Throughput and latency under load. The ratio to a bare Flask page is ratio_bench.py's
        # figure: against the shared ceiling, one server at a time, in the same script.
        desk_cookie = B.cookie_header(clients["desk"])
        rounds = []
        for i in range(args.rounds):
            p = load(portal, "/cases/", desk_cookie, args, pids)
            rounds.append({"portal": p})
            print(f"  round {i + 1}: portal {p['rps']:.0f} req/s (p95 {p['p95']:.1f} ms, server CPU "
                  f"{p['server_cpu_ms_per_req']:.1f} ms/req, others {p['cpu']['others_cores']:.2f} cores)", flush=True)
        result["rounds"] = rounds

        result["load_other"] = {}
        for name, user, path, headers, loaded in PAGES[2:]:
            if loaded:
                r = load(portal, path, B.cookie_header(clients[user]), args, pids, headers)
                result["load_other"][name] = r
                print(f"  load {name:<34} {r['rps']:.0f} req/s p50 {r['p50']:.1f} p95 {r['p95']:.1f} "
                      f"p99 {r['p99']:.1f} ms", flush=True)
        result["top_processes_after"] = B.top_other_processes()

    B.save_json("list.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
