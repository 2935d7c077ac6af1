"""The PDF figures of issue 12, measured in one process in one run.

In a throw-away SQLite database: a 纠正预防单 with four evidence photos is driven through its
whole workflow (issued, answered with a 5-Why chain, approved, verified: all three signatures),
then, with the fonts warm and the renders interleaved round by round so that the machine's
other load falls on all of them alike:

- a minimal one-page Chinese form (a title and a ten-row table) through the same renderer
  and fonts (portal.pdf.html_to_pdf) - the yardstick;
- the sheet with its four photos (target: ≤ 1.5 × the yardstick);
- the sheet without photos (its size: target ≤ 600 KB) and the same sheet with a rare name
  (责任人 王堃; 堃 is outside GB2312), which alone pulls in the full Noto Sans SC face
  (both times given; the faces each PDF embeds are read back with pdffonts);
- the yardstick with the rare name, so the full face's own cost shows without the sheet;
- a cached download of the sheet: GET /ca/<number>/pdf through the Flask app in process
  (login, session, access check, file read), after the first made the file (target ≤ 10 ms).

The renders run twice: with the subsetter WeasyPrint picks here (HarfBuzz's hb-subset when
the system has HarfBuzz ≥ 4.1, a few ms per face), then with its fontTools fallback, which
machines without hb-subset use (hundreds of ms per face, most for the full face): the cost
of fonts, and so the ratios, differ that much between machines.
Wall time and this process's CPU time are both reported (CPU is robust to other load), and
each PDF's pages and printed characters (pdfinfo, pdftotext): a render's time follows how much
the document prints, and the sheet prints several times the yardstick's text.

    .venv/bin/python bench/pdf_bench.py [--rounds 15] [--downloads 200] [--wait-quiet 120]
"""
from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

MINIMAL_HTML = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>回访记录</title></head>
<body><h1>客户回访记录</h1><table>{rows}</table></body></html>"""
MINIMAL_CSS = """@page { size: A4; margin: 16mm; }
h1 { font-size: 18pt; text-align: center; letter-spacing: 0.3em; }
table { width: 100%; border-collapse: collapse; }
th, td { border: 0.6pt solid #555; padding: 1.4mm 2mm; text-align: left; }
th { width: 25%; background: #f2f2f2; }"""
MINIMAL_ROWS = [("客户名称", "{name}"), ("联系电话", "139****5678"), ("产品名称", "三鲜水饺 500g/袋"),
                ("生产批号", "2026090110100"), ("回访时间", "2026-09-12 10:30"), ("回访方式", "电话"),
                ("回访结果", "客户已收到补偿，认可处理结果"), ("满意度", "质量 4 · 办理快 5 · 态度 5"),
                ("回访人", "刘洋"), ("备注", "无")]
COMMON_NAME, RARE_NAME = "王秀英", "王堃"


def photo_jpeg(seed: int) -> bytes:
    """A phone-photo-like JPEG (gradient, shapes and sensor noise), 1600×1200."""
    from PIL import Image, ImageDraw
    base = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
    noise = Image.effect_noise((1600, 1200), 48).convert("RGB")
    img = Image.blend(base, noise, 0.35)
    draw = ImageDraw.Draw(img)
    draw.rectangle((300 + seed * 40, 260, 1100, 900), fill=(40 + seed * 30, 90, 170))
    draw.ellipse((700, 500, 820, 620), fill=(30, 30, 30))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def setup_environment(tmp: Path) -> None:
    os.environ.update({
        "DATABASE_URL": f"sqlite:///{tmp}/portal.db", "SECRET_KEY": "bench", "TZ": "Asia/Shanghai",
        "UPLOAD_DIR": str(tmp / "uploads"), "PDF_CACHE_DIR": str(tmp / "pdf"), "PORTAL_INSTANCE": str(tmp),
        # Nothing listens there: the workflow's mail hand-off fails fast and stays in the outbox.
        "REDIS_URL": "redis://127.0.0.1:1/0"})
    if str(benchlib.APP_ROOT) not in sys.path:
        sys.path.insert(0, str(benchlib.APP_ROOT))


def make_sheet():
    """A closed sheet with four photos, through the operations (tests/conftest.py's factory)."""
    from tests.conftest import make_sheet_at, make_stored_file
    photos = [make_stored_file(f"现场{i + 1}.jpg", photo_jpeg(i)) for i in range(4)]
    return make_sheet_at("closed", photos=photos)


def final_context(sheet, *, photos: bool, owner: str | None = None) -> dict:
    """What the download renders for the shell's full view, as portal.capa.document builds it."""
    from flask_babel import force_locale
    from portal.capa.document import sheet_context, sheet_signatures
    from portal.jsonutil import sha256_of
    with force_locale("zh_CN"):
        context = sheet_context(sheet, None, sheet_signatures(sheet))
    if not photos:
        context["photos"] = []
    if owner:
        context["sheet"]["owner"] = owner
    context["draft"] = False
    context["content_hash"] = sha256_of(context)
    context["generated_at"] = "2026-12-02 10:00"
    return context


def pdf_facts(data: bytes, tmp: Path) -> dict:
    """The faces a PDF embeds, its pages and how many characters it prints (not blanks): how
    much each document carries, which is what its render time follows."""
    path = tmp / "facts.pdf"
    path.write_bytes(data)

    def run(*cmd):
        return subprocess.run([*cmd, str(path)], capture_output=True, text=True, check=True).stdout

    rows = run("pdffonts").splitlines()[2:]
    pages = int(re.search(r"^Pages:\s+(\d+)", run("pdfinfo"), re.M).group(1))
    printed = len(re.sub(r"\s", "", subprocess.run(["pdftotext", str(path), "-"], capture_output=True,
                                                   text=True, check=True).stdout))
    return {"faces": sorted({row.split()[0].split("+")[-1] for row in rows}), "pages": pages, "chars": printed}


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def render_contexts(sheet) -> dict:
    return {"sheet_4_photos": final_context(sheet, photos=True),
            "sheet_no_photos": final_context(sheet, photos=False),
            "sheet_no_photos_rare_name": final_context(sheet, photos=False, owner=RARE_NAME)}


def measure_renders(upload_dir: str, contexts: dict, rounds: int, tmp: Path) -> dict:
    from portal.pdf import html_to_pdf, render_pdf
    style = tmp / "minimal" / "style.css"
    style.parent.mkdir(exist_ok=True)
    style.write_text(MINIMAL_CSS)

    def minimal(name):
        rows = "".join(f"<tr><th>{k}</th><td>{v.format(name=name)}</td></tr>" for k, v in MINIMAL_ROWS)
        return lambda: html_to_pdf(MINIMAL_HTML.format(rows=rows), style)

    jobs = {"minimal_form": minimal(COMMON_NAME), "minimal_form_rare_name": minimal(RARE_NAME)}
    for name, ctx in contexts.items():
        jobs[name] = (lambda c: lambda: render_pdf("ca_sheet", c, allowed_roots=[upload_dir]))(ctx)
    return {subsetter: with_subsetter(subsetter, lambda: measure_jobs(jobs, rounds, tmp))
            for subsetter in ("harfbuzz", "fonttools")}


def with_subsetter(subsetter: str, fn):
    """Run fn with WeasyPrint's own choice of subsetter, or forced onto its fontTools fallback."""
    import logging
    import weasyprint.pdf.fonts as pdf_fonts
    hb = pdf_fonts.harfbuzz_subset
    if subsetter == "harfbuzz" and not hb:
        return {"unavailable": True}
    if subsetter == "fonttools":
        pdf_fonts.harfbuzz_subset = None
        logging.getLogger("weasyprint").setLevel(logging.ERROR)  # its "using fontTools" warning
    try:
        return fn()
    finally:
        pdf_fonts.harfbuzz_subset = hb


def measure_jobs(jobs: dict, rounds: int, tmp: Path) -> dict:
    out = {name: {"wall": [], "cpu": []} for name in jobs}
    sizes, facts, first = {}, {}, {}
    for name, job in jobs.items():  # the first render loads the fonts: reported, not counted
        data, wall, _ = timed(job)
        first[name] = wall
        sizes[name] = len(data)
        facts[name] = pdf_facts(data, tmp)
        timed(job)
    for _ in range(rounds):
        for name, job in jobs.items():
            _, wall, cpu = timed(job)
            out[name]["wall"].append(wall)
            out[name]["cpu"].append(cpu)
    return {name: {"wall_ms_median": statistics.median(v["wall"]) * 1000,
                   "cpu_ms_median": statistics.median(v["cpu"]) * 1000,
                   "wall_ms_min": min(v["wall"]) * 1000, "first_ms": first[name] * 1000,
                   "bytes": sizes[name], **facts[name]}
            for name, v in out.items()}


def measure_download(app, number: str, n: int) -> dict:
    client = app.test_client()
    html = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/auth/login", data={"username": "quality", "password": "demo1234", "csrf_token": token})
    client.get("/work")
    resp, first, _ = timed(lambda: client.get(f"/ca/{number}/pdf"))
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF"), resp.status_code
    walls, cpus = [], []
    for _ in range(n):
        r, wall, cpu = timed(lambda: client.get(f"/ca/{number}/pdf"))
        assert r.status_code == 200 and r.data == resp.data
        walls.append(wall)
        cpus.append(cpu)
    return {"first_ms": first * 1000, **{f"wall_{k}": v for k, v in benchlib.summary_ms(walls).items()},
            "cpu_p50": benchlib.percentile(cpus, 50) * 1000, "bytes": len(resp.data)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--downloads", type=int, default=200)
    ap.add_argument("--wait-quiet", type=float, default=0, help="seconds to wait, at most, for a quiet machine")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pdf-bench-"))
    try:
        setup_environment(tmp)
        quiet = benchlib.wait_quiet(args.wait_quiet) if args.wait_quiet else None
        from flask_migrate import upgrade
        from portal import create_app
        from portal.seed import seed_demo
        app = create_app()
        with app.app_context():
            upgrade(directory=str(benchlib.APP_ROOT / "portal" / "migrations"))
            seed_demo()
            sheet = make_sheet()
            number, contexts = sheet.number, render_contexts(sheet)
        # Outside that context: each request opens its own, as under gunicorn (an outer one
        # would lend every request its session's identity map and cached unit tree).
        with benchlib.CpuWatch(lambda: []) as watch:
            renders = measure_renders(app.config["UPLOAD_DIR"], contexts, args.rounds, tmp)
            download = measure_download(app, number, args.downloads)
        report(renders, download, watch.result, quiet, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(renders: dict, download: dict, watch: dict, quiet, args) -> None:
    lines = [f"PDF figures (medians of {args.rounds} interleaved warm renders; wall / this process's CPU)"]
    ratios = {}
    for subsetter, r in renders.items():
        if r.get("unavailable"):
            lines.append(f" {subsetter}: not available here")
            continue
        ratios[subsetter] = {
            "wall": r["sheet_4_photos"]["wall_ms_median"] / r["minimal_form"]["wall_ms_median"],
            "cpu": r["sheet_4_photos"]["cpu_ms_median"] / r["minimal_form"]["cpu_ms_median"]}
        lines.append(f" fonts subset by {subsetter}:")
        for name, v in r.items():
            lines.append(f"  {name:28s} {v['wall_ms_median']:7.1f} ms / {v['cpu_ms_median']:7.1f} ms CPU  "
                         f"(first {v['first_ms']:.0f} ms)  {v['bytes'] / 1024:6.1f} KB  faces: {', '.join(v['faces'])}")
        sheet, form = r["sheet_4_photos"], r["minimal_form"]
        lines += [
            f"  sheet with 4 photos / minimal form: {ratios[subsetter]['wall']:.2f}× wall, "
            f"{ratios[subsetter]['cpu']:.2f}× CPU (target ≤ 1.5×)",
            f"  what they print: the sheet {sheet['chars']} characters on {sheet['pages']} pages, the form "
            f"{form['chars']} on {form['pages']} ({sheet['chars'] / form['chars']:.1f}× the text); CPU per "
            f"printed character {sheet['cpu_ms_median'] / sheet['chars'] * 1000:.0f} µs vs "
            f"{form['cpu_ms_median'] / form['chars'] * 1000:.0f} µs",
            f"  rare name (full face): sheet {r['sheet_no_photos_rare_name']['cpu_ms_median']:.0f} ms CPU vs "
            f"{r['sheet_no_photos']['cpu_ms_median']:.0f} ms without; minimal form "
            f"{r['minimal_form_rare_name']['cpu_ms_median']:.0f} ms vs {r['minimal_form']['cpu_ms_median']:.0f} ms",
        ]
    first = next(r for r in renders.values() if not r.get("unavailable"))
    lines += [
        f" sheet without photos: {first['sheet_no_photos']['bytes'] / 1024:.0f} KB (target ≤ 600 KB)",
        f" cached download GET /ca/<n>/pdf: p50 {download['wall_p50']:.2f} ms, p95 {download['wall_p95']:.2f} ms "
        f"(CPU p50 {download['cpu_p50']:.2f} ms; n={download['wall_n']}; the first, rendering: "
        f"{download['first_ms']:.0f} ms) (target ≤ 10 ms)",
        f" machine: other processes used {watch['others_cores']:.2f} of {os.cpu_count()} cores meanwhile "
        f"(load {watch['load1_before']:.2f} → {watch['load1_after']:.2f})",
    ]
    print("\n".join(lines))
    path = benchlib.save_json("pdf_bench.json", {
        "renders": renders, "download": download, "ratios": ratios, "cpu_watch": watch,
        "quiet": quiet, "machine": benchlib.machine_conditions(), "rounds": args.rounds})
    print(f"  → {path}")


if __name__ == "__main__":
    main()
