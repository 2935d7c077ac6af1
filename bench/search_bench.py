"""Figure (issue 13 item 6): the case list's free-text search at 1M cases, through the
bigram index (portal/search), for a common and for a rare two-character word.

    python bench/search_bench.py --database-url postgresql://postgres@127.0.0.1/portal_bench

The database must have its index (`flask search-reindex` after bench/generate.py). The common
word defaults to 水饺 (the product of ~38 % of the generated cases); the rare one is drawn
from the names of random cases: a bigram with 1–50 cases (the generated data has no rarer
one: its 18M terms are 13,874 distinct bigrams, the rarest in 20 cases), and a word no case
has (榴莲) is measured too. The counts are printed. Then, under
gunicorn as list_bench.py runs it, N sequential GETs of `/cases/?q=…` each for desk (sees
every case) and rep_cd (one branch): client round trip and the server's own time
(`Server-Timing`). Target: server p95 ≤ 50 ms.
"""
from __future__ import annotations

import argparse
import sys
from urllib.parse import quote

import psycopg

import benchlib as B
from list_bench import parse_config, sequential


def term_count(cur, term: str, cap: int = 1_000_000) -> int:
    cur.execute("SELECT count(*) FROM (SELECT 1 FROM case_term WHERE term = %s LIMIT %s) t", (term, cap))
    return cur.fetchone()[0]


def rare_word(cur, tries: int = 2000) -> tuple[str, int]:
    """A bigram of a random customer's name that few cases share."""
    cur.execute("SELECT customer_name FROM \"case\" TABLESAMPLE SYSTEM (0.1) LIMIT %s", (tries,))
    for (name,) in cur.fetchall():
        for i in range(len(name) - 1):
            word = name[i:i + 2]
            n = term_count(cur, word, 51)
            if 1 <= n <= 50:
                return word, n
    raise SystemExit("no rare bigram found: is the index built (flask search-reindex)?")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=B.DEFAULT_DB)
    ap.add_argument("--config", default="sync:3")
    ap.add_argument("--common", default="水饺")
    ap.add_argument("--rare", help="default: drawn from the data")
    ap.add_argument("--absent", default="榴莲")
    ap.add_argument("--sequential", type=int, default=300, help="requests per search, one client")
    ap.add_argument("--wait-quiet", type=float, default=300, help="seconds to wait at most for an idle machine")
    args = ap.parse_args(argv)

    with psycopg.connect(B.pg_url(args.database_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM \"case\"")
        cases = cur.fetchone()[0]
        rare, rare_n = (args.rare, term_count(cur, args.rare)) if args.rare else rare_word(cur)
        common_n = term_count(cur, args.common)
        absent_n = term_count(cur, args.absent)
    words = {"common": (args.common, common_n), "rare": (rare, rare_n), "absent": (args.absent, absent_n)}
    quiet = B.wait_quiet(args.wait_quiet)
    result = {"machine": B.machine_conditions(), "quiet": quiet, "args": vars(args), "cases": cases,
              "words": words}
    print(f"machine: {result['machine']}\nquiet: {quiet}\n{cases} cases; common {args.common} in {common_n}, "
          f"rare {rare} in {rare_n}, absent {args.absent} in {absent_n}", flush=True)

    cfg = parse_config(args.config)
    result["server"] = str(cfg)
    result["sequential"] = {}
    with B.gunicorn("serve:portal_app()", args.database_url, cfg) as (portal, _proc):
        clients = {u: B.Client(portal).login(u) for u in ("desk", "rep_cd")}
        # The list without a search, for the machine's load at the time.
        pages = [("desk: /cases/ (no search)", "desk", "/cases/")]
        pages += [(f"{u}: q={w} ({kind})", u, f"/cases/?q={quote(w)}")
                  for kind, (w, _n) in words.items() for u in clients]
        for _ in range(20):  # warm: imports, templates, pools, PostgreSQL's cache
            for _name, user, path in pages:
                clients[user].get(path)
        for name, user, path in pages:
            s = sequential(clients[user], path, args.sequential, {}, 60)
            result["sequential"][name] = s
            print(f"  {name:<34} client p50 {s['client']['p50']:.1f} p95 {s['client']['p95']:.1f} ms | "
                  f"server p50 {s['server']['p50']:.1f} p95 {s['server']['p95']:.1f} "
                  f"cpu p50 {s['server_cpu']['p50']:.1f} p95 {s['server_cpu']['p95']:.1f} ms", flush=True)
    result["busy_cores_after"] = round(B.busy_cores(), 2)
    print(f"busy cores after: {result['busy_cores_after']}")
    worst = max(s["server"]["p95"] for name, s in result["sequential"].items() if "q=" in name)
    print(f"worst server p95 {worst:.1f} ms (target ≤ 50 ms): {'met' if worst <= 50 else 'NOT met'}")
    B.save_json("search.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
