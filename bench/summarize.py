"""Write bench/out/summary.md from the JSON each figure script left in bench/out/."""
from __future__ import annotations

import json
import os
import sys
import time

import benchlib as B


def load(name: str) -> dict | None:
    path = B.OUT / name
    return json.loads(path.read_text()) if path.exists() else None


def load_from(folder, name: str) -> dict | None:
    path = folder / name
    return json.loads(path.read_text()) if path.exists() else None


def ms(x) -> str:
    return B.fmt_ms(x)


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("✅ met" if ok else "❌ not met")


def db_facts(url: str) -> str:
    import psycopg
    try:
        with psycopg.connect(B.pg_url(url)) as conn:
            n = conn.execute('SELECT count(*) FROM "case"').fetchone()[0]
            open_n = conn.execute('SELECT count(*) FROM "case" WHERE step IS NOT NULL').fetchone()[0]
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        return f"{n:,} cases ({open_n:,} open), database {size}"
    except Exception as exc:  # noqa: BLE001
        return f"(database not readable: {exc})"


def main() -> int:
    url = os.environ.get("BENCH_DATABASE_URL", B.DEFAULT_DB)
    lst, work, intake, trans = load("list.json"), load("work.json"), load("intake.json"), load("transition.json")
    rev = next((d.get("app_rev") for d in (lst, work, intake, trans) if d and d.get("app_rev")), None)
    # The timing of the last generation that did generate: run_all.sh's own, else the kept record.
    last = B.OUT / "generate-last.log"
    gen = last.read_text() if last.exists() and " total " in last.read_text() else ""
    if not gen and (B.OUT / "generate.log").exists():
        gen = (B.OUT / "generate.log").read_text()
    first = next((d for d in (lst, work, intake, trans) if d), {})
    m = first.get("machine", B.machine_conditions())
    lines = ["# Figures", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M %Z')} · code {rev or os.environ.get('BENCH_APP_REV', '?')} · "
             f"{db_facts(url)}", "",
             f"Machine: {m.get('cpu')} × {m.get('cores')} cores, {m.get('memory')}, Linux {m.get('kernel')}, "
             f"Python {m.get('python')}, PostgreSQL {m.get('postgres')}. Server: "
             f"`{first.get('server', '?')}` (bench/serve.py), load client wrk 4.1 (Debian) and a Python "
             "keep-alive client; everything on 127.0.0.1.", "",
             "Server time is the `Server-Timing` the bench middleware adds (wall time inside the WSGI app, "
             "upload reading included); *cpu* is the worker thread's CPU time for the request, which other "
             "load on the machine does not inflate. *others* is CPU used by processes not part of the "
             "measurement while it ran (cores, of 2).", "",
             "| Figure | Target | Result | |", "|---|---|---|---|"]
    details = []
    ratio = load("ratio.json")
    if ratio:
        runs = ratio["portal_runs"]
        ceil = ", ".join(f"{c['rps']:.0f}" for c in ratio["ceiling_runs"])
        for key, title, target in (("list", "Case list (desk, full page)", 0.5), ("fragment", "Case list, HTMX fragment", 0.6),
                                   ("case", "Case page (desk, with panels)", 0.25), ("work", "My work (leader_prod1, 200 waiting)", None)):
            per = ", ".join(f"{r[key]['rps']:.0f}" for r in runs)
            lines.append(f"| {title} vs the shared ceiling, req/s | {'≥ %.2g×' % target if target else '—'} | "
                         f"{ratio['ratios'][key]:.2f}× (median of {len(runs)} rounds; portal {per} req/s, ceiling {ceil}; "
                         f"`{ratio['server']}`, `{ratio['load']}`, one server at a time) | "
                         f"{verdict(ratio['ratios'][key] >= target) if target else ''} |")
    if lst:
        s = lst["sequential"]["desk: /cases/ first page"]
        load_p95 = [r["portal"]["p95"] for r in lst["rounds"]]
        lines.append(f"| Case list, desk, first page of 50, 1M cases | p95 ≤ 50 ms | sequential server p50 "
                     f"{ms(s['server']['p50'])} / p95 {ms(s['server']['p95'])} ms (cpu p50 "
                     f"{ms(s['server_cpu']['p50'])}), client p95 {ms(s['client']['p95'])} ms; under load "
                     f"(c={lst['args']['connections']}) p95 {ms(min(load_p95))}–{ms(max(load_p95))} ms | "
                     f"{verdict(s['server']['p95'] <= 50)} |")
        details += ["", "## Case list (bench/list_bench.py)", "",
                    "| Page | bytes | client p50 | client p95 | client p99 | server p50 | server p95 | cpu p50 |",
                    "|---|---|---|---|---|---|---|---|"]
        for name, v in lst["sequential"].items():
            details.append(f"| {name} | {v['bytes']:,} | {ms(v['client']['p50'])} | {ms(v['client']['p95'])} | "
                           f"{ms(v['client']['p99'])} | {ms(v['server']['p50'])} | {ms(v['server']['p95'])} | "
                           f"{ms(v['server_cpu']['p50'])} |")
        details += ["", f"Under load (wrk, {lst['args']['connections']} connections, ≤ {lst['args']['duration']} s "
                        f"and ≤ {lst['args']['max_requests']} requests per run):", "",
                    "| Run | req/s | p50 | p95 | p99 | non-200 | others (cores) |", "|---|---|---|---|---|---|---|"]
        for i, r in enumerate(lst["rounds"], 1):
            for side in ("portal",):
                x = r[side]
                details.append(f"| round {i} {side} | {x['rps']:.0f} | {ms(x['p50'])} | {ms(x['p95'])} | "
                               f"{ms(x['p99'])} | {x['non200'] + x['errors']} | {x['cpu']['others_cores']:.2f} |")
        for name, x in lst.get("load_other", {}).items():
            details.append(f"| {name} | {x['rps']:.0f} | {ms(x['p50'])} | {ms(x['p95'])} | {ms(x['p99'])} | "
                           f"{x['non200'] + x['errors']} | {x['cpu']['others_cores']:.2f} |")
        if lst.get("sweep"):
            details += ["", "gunicorn settings tried (desk list, req/s, p95 ms): " +
                        "; ".join(f"`{t}` {rps} req/s p95 {p95}" for t, rps, p95 in lst["sweep"])]
    if work:
        s = work["sequential"]["leader_prod1: /work"]
        lines.append(f"| My work, leader_prod1, {work['inbox_rows']} waiting among 1M | p95 ≤ 60 ms | sequential "
                     f"server p50 {ms(s['server']['p50'])} / p95 {ms(s['server']['p95'])} ms (cpu p50 "
                     f"{ms(s['server_cpu']['p50'])}), client p95 {ms(s['client']['p95'])} ms | "
                     f"{verdict(s['server']['p95'] <= 60)} |")
        details += ["", "## My work (bench/work_bench.py)", "",
                    f"leader_prod1's inbox shows {work['inbox_rows']} rows; badge “{work['badge']}”.", "",
                    "| Page | bytes | client p50 | client p95 | client p99 | server p50 | server p95 | cpu p50 |",
                    "|---|---|---|---|---|---|---|---|"]
        for name, v in work["sequential"].items():
            details.append(f"| {name} | {v['bytes']:,} | {ms(v['client']['p50'])} | {ms(v['client']['p95'])} | "
                           f"{ms(v['client']['p99'])} | {ms(v['server']['p50'])} | {ms(v['server']['p95'])} | "
                           f"{ms(v['server_cpu']['p50'])} |")
        details += ["", "| Under load | req/s | p50 | p95 | p99 | others (cores) |", "|---|---|---|---|---|---|"]
        for name, x in work["load"].items():
            details.append(f"| {name} | {x['rps']:.0f} | {ms(x['p50'])} | {ms(x['p95'])} | {ms(x['p99'])} | "
                           f"{x['cpu']['others_cores']:.2f} |")
    if intake:
        mb = intake["upload_bytes"] / 1048576
        photo_sizes = ", ".join(f"{p['bytes'] / 1048576:.2f} MB" for p in intake["photos"])
        lines.append(f"| Intake POST, 3 photos ({mb:.1f} MB), rep_cd | p95 ≤ 400 ms server | server p50 "
                     f"{ms(intake['server']['p50'])} / p95 {ms(intake['server']['p95'])} ms (cpu p50 "
                     f"{ms(intake['server_cpu']['p50'])}), client p95 {ms(intake['client']['p95'])} ms, "
                     f"n={intake['server']['n']} | {verdict(intake['server']['p95'] <= 400)} |")
        details += ["", "## Intake (bench/intake_bench.py)", "",
                    f"Photos: {photo_sizes} "
                    f"(4000×3000 JPEG with EXIF orientation and GPS); {intake['server']['n']} POSTs after "
                    f"{intake['args']['warmup']} warm-ups; others {intake['cpu']['others_cores']:.2f} cores.", "",
                    f"| | p50 | p95 | p99 | max |", "|---|---|---|---|---|",
                    f"| client (loopback) | {ms(intake['client']['p50'])} | {ms(intake['client']['p95'])} | "
                    f"{ms(intake['client']['p99'])} | {ms(intake['client']['max'])} |",
                    f"| server | {ms(intake['server']['p50'])} | {ms(intake['server']['p95'])} | "
                    f"{ms(intake['server']['p99'])} | {ms(intake['server']['max'])} |",
                    f"| server cpu | {ms(intake['server_cpu']['p50'])} | {ms(intake['server_cpu']['p95'])} | "
                    f"{ms(intake['server_cpu']['p99'])} | {ms(intake['server_cpu']['max'])} |", "",
                    "One photo, in-process (CPU ms, median): " + ", ".join(
                        f"{k} {ms(v['p50'])}" for k, v in intake["parts_per_photo"].items())]
    if trans:
        hx = trans["passes"]["htmx"]
        scrypt = trans["scrypt"]["p50"]
        signing = {"approve", "reject", "sign_off"}
        non_signing = [v for a, v in hx["per_action"].items() if a not in signing]
        worst_plain = max(v["server"]["p95"] for v in non_signing) if non_signing else float("nan")
        worst_sign = max((hx["per_action"][a]["server"]["p95"] for a in signing if a in hx["per_action"]),
                         default=float("nan"))
        lines.append(f"| Transition POSTs (all 13 kinds, htmx), 1M cases | p95 ≤ 80 ms server | all: p50 "
                     f"{ms(hx['all']['server']['p50'])} / p95 {ms(hx['all']['server']['p95'])} ms; worst "
                     f"transition without signature p95 {ms(worst_plain)} ms; with signature p95 "
                     f"{ms(worst_sign)} ms | "
                     f"{verdict(worst_plain <= 80)} without signature; {verdict(worst_sign <= 80)} with "
                     f"signature (the password check alone is ≈ {ms(scrypt)} ms, {trans['password_method']}) |")
        details += ["", "## Transitions (bench/transition_bench.py)", "",
                    f"Password check alone (`{trans['password_method']}`, User.check_password): p50 {ms(scrypt)} ms, "
                    f"p95 {ms(trans['scrypt']['p95'])} ms in-process (deliberate; approve, reject and sign-off pay it "
                    "once).",
                    ""]
        for name, p in trans["passes"].items():
            details += [f"{name}: {p['posts']} POSTs, others {p['cpu']['others_cores']:.2f} cores", "",
                        "| Transition | n | server p50 | server p95 | cpu p50 | cpu p95 | client p95 |",
                        "|---|---|---|---|---|---|---|"]
            for a, v in p["per_action"].items():
                details.append(f"| {a} | {v['server']['n']} | {ms(v['server']['p50'])} | {ms(v['server']['p95'])} | "
                               f"{ms(v['server_cpu']['p50'])} | {ms(v['server_cpu']['p95'])} | "
                               f"{ms(v['client']['p95'])} |")
            a = p["all"]
            details += [f"| **all** | {a['server']['n']} | {ms(a['server']['p50'])} | {ms(a['server']['p95'])} | "
                        f"{ms(a['server_cpu']['p50'])} | {ms(a['server_cpu']['p95'])} | {ms(a['client']['p95'])} |", ""]
    patched = {n: load_from(B.OUT / "patched", f"{n}.json") for n in ("list", "work", "intake")}
    if any(patched.values()):
        rev = next((d.get("app_rev") for d in patched.values() if d), "?")
        details += ["", f"## With the proposed patch ({rev}, bench/try_patch.sh)", "",
                    "| Figure | HEAD | patched |", "|---|---|---|"]
        if lst and patched["list"]:
            a, b = lst, patched["list"]
            for page in ("desk: /cases/ first page", "desk: /cases/ HTMX partial", "rep_cd: /cases/ (branch-scoped)"):
                details.append(f"| {page}: server p50 / p95, cpu p50 (ms) | {ms(a['sequential'][page]['server']['p50'])} / "
                               f"{ms(a['sequential'][page]['server']['p95'])}, {ms(a['sequential'][page]['server_cpu']['p50'])} | "
                               f"{ms(b['sequential'][page]['server']['p50'])} / {ms(b['sequential'][page]['server']['p95'])}, "
                               f"{ms(b['sequential'][page]['server_cpu']['p50'])} |")
        if work and patched["work"]:
            a, b = work["sequential"]["leader_prod1: /work"], patched["work"]["sequential"]["leader_prod1: /work"]
            details.append(f"| leader_prod1 /work: server p50 / p95, cpu p50 (ms) | {ms(a['server']['p50'])} / "
                           f"{ms(a['server']['p95'])}, {ms(a['server_cpu']['p50'])} | {ms(b['server']['p50'])} / "
                           f"{ms(b['server']['p95'])}, {ms(b['server_cpu']['p50'])} |")
        if intake and patched["intake"]:
            a, b = intake, patched["intake"]
            details.append(f"| intake, 3 photos: server p50 / p95 (ms) | {ms(a['server']['p50'])} / {ms(a['server']['p95'])} | "
                           f"{ms(b['server']['p50'])} / {ms(b['server']['p95'])} |")
            for k in a.get("parts_per_photo", {}):
                if k in b.get("parts_per_photo", {}):
                    details.append(f"| one photo, {k}: CPU p50 (ms) | {ms(a['parts_per_photo'][k]['p50'])} | "
                                   f"{ms(b['parts_per_photo'][k]['p50'])} |")
    if gen:
        details += ["", "## Generator (bench/generate.py)", "", "```", gen.strip()[-6000:], "```"]
    quiet = B.OUT / "quiet.log"
    if quiet.exists():
        details += ["", "## Waiting for a quiet machine before each figure", "", "```", quiet.read_text().strip(), "```"]
    out = B.OUT / "summary.md"
    out.write_text("\n".join(lines + details) + "\n")
    print(f"→ {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
