"""The signed sign-off sheet shows the customer's phone as the reader's page does, and the
first download after sign-off is the worker's pre-rendered file (issue 10, items 11 and 14)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, make_case_at

FULL = "13912345678"
MASKED = "139****5678"


def pdf_text(data: bytes, tmp_path: Path) -> str:
    pdf = tmp_path / "sheet.pdf"
    pdf.write_bytes(data)
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def sheet(client, number: str, tmp_path: Path) -> str:
    resp = client.get(f"/cases/{number}/signoff.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    return pdf_text(resp.data, tmp_path)


def test_sheet_masks_the_phone_for_readers_who_see_it_masked(app, as_user, tmp_path):
    case = make_case_at("closed")
    # The desk sees the whole number on the page, so on paper too.
    assert FULL in sheet(as_user("desk"), case.number, tmp_path)
    # A leader and quality see 139****5678 on the page; the sheet they download must not
    # tell them more, even right after someone with full rights had the sheet made.
    for username in ("leader_prod1", "quality"):
        text = sheet(as_user(username), case.number, tmp_path)
        assert MASKED in text and FULL not in text, username
    # And the other way round: the masked file in the cache is not what the desk gets.
    assert FULL in sheet(as_user("desk"), case.number, tmp_path)


def _env(app) -> dict:
    return {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_DIR": str(app.config["UPLOAD_DIR"]), "PDF_CACHE_DIR": str(app.config["PDF_CACHE_DIR"]),
            "SECRET_KEY": app.config["SECRET_KEY"], "REDIS_URL": app.config["REDIS_URL"],
            "TZ": "Asia/Shanghai", "PYTHONPATH": str(ROOT)}


# A web process as gunicorn starts it: it has served pages, never a PDF.
FRESH_WEB_PROCESS = r"""
import json, re, sys, time
from portal import create_app
from portal.config import TestConfig
app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=sys.argv[1], UPLOAD_DIR=sys.argv[2], PDF_CACHE_DIR=sys.argv[3])
out = {}
for username in ("desk", "leader_prod1"):
    client = app.test_client()
    html = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/auth/login", data={"username": username, "password": "demo1234", "csrf_token": token})
    client.get("/work")
    t = time.perf_counter()
    resp = client.get(f"/cases/{sys.argv[4]}/signoff.pdf")
    out[username] = {"status": resp.status_code, "seconds": time.perf_counter() - t}
out["weasyprint_loaded"] = "weasyprint" in sys.modules
print(json.dumps(out))
"""


def test_first_download_after_sign_off_reads_the_worker_s_file(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PDF_CACHE_DIR", tmp_path / "pdf")  # this test's files only
    case = make_case_at("closed")
    cache = Path(app.config["PDF_CACHE_DIR"]) / "signoff"
    env = _env(app)
    # The pre-render job, in a process of its own as an RQ work-horse runs it.
    made = subprocess.run(
        [sys.executable, "-c", "import sys, json; from jobs.documents import render_case_signoff; "
         "print(json.dumps(render_case_signoff(int(sys.argv[1]))))", str(case.id)],
        env=env, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    assert len(json.loads(made)) == 2  # the full and the masked sheet
    before = sorted(p.name for p in cache.glob(f"{case.number}-*.pdf"))
    assert len(before) == 2

    result = subprocess.run(
        [sys.executable, "-c", FRESH_WEB_PROCESS, app.config["SQLALCHEMY_DATABASE_URI"],
         str(app.config["UPLOAD_DIR"]), str(app.config["PDF_CACHE_DIR"]), case.number],
        env=env, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["desk"]["status"] == 200 and out["leader_prod1"]["status"] == 200
    # Nothing was rendered on request: both readers got the worker's files ...
    assert sorted(p.name for p in cache.glob(f"{case.number}-*.pdf")) == before
    # ... and the web process never loaded the PDF renderer (about a second of Pango and
    # Cairo start-up, which was the 1.3 s of the first download).
    assert out["weasyprint_loaded"] is False
    assert out["desk"]["seconds"] < 1.0 and out["leader_prod1"]["seconds"] < 1.0, out
