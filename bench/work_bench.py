"""Figure: "my work" (/work) for leader_prod1 with 200 cases waiting among 1M.

    python bench/work_bench.py --database-url postgresql://postgres@127.0.0.1/portal_bench

Checks first that the inbox really holds the expected number of rows (the generator's
--leader-waiting), then measures, under gunicorn: sequential latency (one keep-alive client;
loopback round trip and `Server-Timing`) of the page, its HTMX refresh, the approval filter
and the navigation badge (/work/count, polled every 60 s by every open page), and the page
under closed-loop load with wrk. For contrast it also measures the desk's inbox, which
collects every open case at verify, dispatch and call-back.
Target (issue 3): p95 ≤ 60 ms.
"""
from __future__ import annotations

import argparse
import re
import sys

import benchlib as B
from list_bench import load, parse_config, sequential

PAGES = [  # name, user, path, headers, under load
    ("leader_prod1: /work", "leader_prod1", "/work", {}, True),
    ("leader_prod1: /work HTMX refresh", "leader_prod1", "/work", {"HX-Request": "true"}, False),
    ("leader_prod1: /work?only=approve", "leader_prod1", "/work?only=approve", {}, False),
    ("leader_prod1: /work/count badge", "leader_prod1", "/work/count", {"HX-Request": "true"}, True),
    ("desk: /work (all open verify/dispatch/callback)", "desk", "/work", {}, False),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=B.DEFAULT_DB)
    ap.add_argument("--config", default="sync:3")
    ap.add_argument("--expect", type=int, default=200, help="rows expected in leader_prod1's inbox")
    ap.add_argument("--sequential", type=int, default=300)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--duration", type=int, default=12)
    ap.add_argument("--max-requests", type=int, default=30000)
    args = ap.parse_args(argv)

    cfg = parse_config(args.config)
    result = {"machine": B.machine_conditions(), "server": str(cfg), "args": vars(args)}
    dbn = B.db_name(args.database_url)
    with B.gunicorn("serve:portal_app()", args.database_url, cfg) as (base, proc):
        def pids():
            return B.worker_pids(proc) + B.postgres_pids(dbn)

        clients = {u: B.Client(base).login(u) for u in {p[1] for p in PAGES}}
        page = clients["leader_prod1"].get("/work").text
        tbody = page.split('id="work-table"', 1)[-1]
        rows = len(re.findall(r"<tr>", tbody.split("<tbody>", 1)[-1])) if "<tbody>" in tbody else 0
        badge = clients["leader_prod1"].get("/work/count").text
        result["inbox_rows"] = rows
        result["badge"] = re.sub(r"<[^>]+>", "", badge).strip()
        print(f"leader_prod1 inbox: {rows} rows shown, badge '{result['badge']}'", flush=True)
        if rows != args.expect:
            print(f"warning: expected {args.expect} rows", file=sys.stderr)
        for _ in range(40):
            for name, user, path, headers, _ in PAGES:
                clients[user].get(path, headers=headers)
        result["sequential"] = {}
        for name, user, path, headers, _ in PAGES:
            s = sequential(clients[user], path, args.sequential, headers, 60)
            result["sequential"][name] = s
            print(f"  {name:<48} client p50 {s['client']['p50']:.1f} p95 {s['client']['p95']:.1f} "
                  f"p99 {s['client']['p99']:.1f} ms | server p50 {s['server']['p50']:.1f} "
                  f"p95 {s['server']['p95']:.1f} cpu p50 {s['server_cpu']['p50']:.1f} ms | {s['bytes']} bytes", flush=True)
        result["load"] = {}
        for name, user, path, headers, loaded in PAGES:
            if loaded:
                r = load(base, path, B.cookie_header(clients[user]), args, pids, headers)
                result["load"][name] = r
                print(f"  load {name:<43} {r['rps']:.0f} req/s p50 {r['p50']:.1f} p95 {r['p95']:.1f} "
                      f"p99 {r['p99']:.1f} ms | others {r['cpu']['others_cores']:.2f} cores", flush=True)
    B.save_json("work.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
