"""Lighthouse mobile performance of the main pages (issue 10 item 23): login, list, case page,
my work, intake — logged-in pages with the session cookie passed as an extra header.

    npm install --prefix /tmp/lh lighthouse          # once, OUTSIDE the repo
    python bench/lighthouse.py                        # starts the portal on the bench database
    python bench/lighthouse.py --base http://127.0.0.1:5000   # or measure a running portal

Lighthouse's default is the mobile form factor (emulated phone, simulated slow 4G and a 4×
slower CPU). Chromium is Debian's (/usr/bin/chromium, headless, no sandbox). Without the
lighthouse package the script says so and exits 0: it is a bench tool, not a test.
Prints one line per page (score, FCP, LCP, TBT, CLS, transferred KB, DOM nodes, font files)
and writes bench/out/lighthouse/<page>.json (the full reports).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import benchlib as B

DEFAULT_LH = os.environ.get("LIGHTHOUSE", "/tmp/lh/node_modules/.bin/lighthouse")
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")


def find_lighthouse(path: str) -> str | None:
    if Path(path).exists():
        return path
    return shutil.which("lighthouse")


def run_one(lh: str, url: str, cookie: str | None, out: Path, runs: int) -> dict:
    """The median-scoring of `runs` Lighthouse runs of one URL."""
    results = []
    for i in range(runs):
        cmd = [lh, url, "--quiet", "--only-categories=performance", "--output=json",
               f"--output-path={out}.{i}.json", "--chrome-flags=--headless --no-sandbox --disable-gpu",
               "--max-wait-for-load=60000"]
        if cookie:
            cmd.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
        subprocess.run(cmd, env={**os.environ, "CHROME_PATH": CHROME}, check=True, timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rep = json.loads(Path(f"{out}.{i}.json").read_text())
        a = rep["audits"]
        reqs = a.get("network-requests", {}).get("details", {}).get("items", [])
        fonts = [r for r in reqs if r.get("resourceType") == "Font"]
        doc = next((r for r in reqs if r.get("resourceType") == "Document"), {})
        results.append({
            "score": round(rep["categories"]["performance"]["score"] * 100),
            "fcp_ms": a["first-contentful-paint"]["numericValue"],
            "lcp_ms": a["largest-contentful-paint"]["numericValue"],
            "tbt_ms": a["total-blocking-time"]["numericValue"],
            "cls": a["cumulative-layout-shift"]["numericValue"],
            "si_ms": a["speed-index"]["numericValue"],
            "transfer_kb": sum(r.get("transferSize", 0) for r in reqs) / 1024,
            "html_kb": doc.get("transferSize", 0) / 1024, "html_raw_kb": doc.get("resourceSize", 0) / 1024,
            "dom_nodes": (a.get("dom-size", {}).get("numericValue") or 0),
            "fonts": len(fonts), "font_kb": sum(r.get("transferSize", 0) for r in fonts) / 1024,
            "final_url": rep.get("finalDisplayedUrl") or rep.get("finalUrl"), "report": f"{out}.{i}.json",
        })
    scores = [r["score"] for r in results]
    results.sort(key=lambda r: r["score"])
    median = results[len(results) // 2]
    os.replace(median["report"], f"{out}.json")  # keep the median run's full report
    for r in results:
        Path(r["report"]).unlink(missing_ok=True)
    return median | {"all_scores": scores, "report": f"{out}.json"}


def pages(client: B.Client) -> list[tuple[str, str]]:
    html = client.get("/cases/?state=open").text
    m = re.search(r'href="(/cases/KS[^"/]+)"', html)
    return [("login", "/auth/login"), ("list", "/cases/"), ("case", m.group(1) if m else "/cases/"),
            ("work", "/work"), ("intake", "/cases/new")]


def measure(base: str, lh: str, user: str, runs: int, only: list[str] | None) -> dict:
    out_dir = B.OUT / "lighthouse"
    out_dir.mkdir(parents=True, exist_ok=True)
    client = B.Client(base).login(user)
    cookie = B.cookie_header(client)
    found = {}
    for name, path in pages(client):
        if only and name not in only:
            continue
        r = run_one(lh, base + path, None if name == "login" else cookie, out_dir / name, runs)
        if name != "login" and r["final_url"] and "/auth/login" in r["final_url"]:
            raise RuntimeError(f"{name}: Lighthouse was sent to the login page (cookie refused)")
        found[name] = r | {"path": path}
        print(f"  {name:<7} {r['score']:>3}  (runs {r['all_scores']})  FCP {r['fcp_ms']:.0f} ms  LCP {r['lcp_ms']:.0f} ms  "
              f"TBT {r['tbt_ms']:.0f} ms  CLS {r['cls']:.3f}  {r['transfer_kb']:.0f} KB sent (HTML {r['html_kb']:.1f} KB "
              f"of {r['html_raw_kb']:.0f})  DOM {r['dom_nodes']:.0f}  fonts {r['fonts']} ({r['font_kb']:.0f} KB)  {path}",
              flush=True)
    return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", help="a running portal; default: start one on --database-url")
    ap.add_argument("--database-url", default=B.DEFAULT_DB)
    ap.add_argument("--user", default="desk")
    ap.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page (the median is shown)")
    ap.add_argument("--only", nargs="*", help="page names: login list case work intake")
    ap.add_argument("--lighthouse", default=DEFAULT_LH)
    args = ap.parse_args(argv)
    lh = find_lighthouse(args.lighthouse)
    if lh is None:
        print("lighthouse is not installed: npm install --prefix /tmp/lh lighthouse (outside the repo)")
        return 0
    print(f"Lighthouse mobile performance, {args.runs} runs per page, user {args.user}", flush=True)
    if args.base:
        result = measure(args.base.rstrip("/"), lh, args.user, args.runs, args.only)
    else:
        cfg = B.ServerConfig(workers=2)
        with B.gunicorn("serve:portal_app()", args.database_url, cfg) as (base, _proc):
            result = measure(base, lh, args.user, args.runs, args.only)
    B.save_json("lighthouse.json", {"pages": result, "user": args.user})
    worst = min(r["score"] for r in result.values())
    print(f"lowest score {worst} (target >= 95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
