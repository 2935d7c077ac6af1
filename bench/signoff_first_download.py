"""First download of a freshly signed sign-off PDF (issue 10, item 14).

In a throw-away SQLite database: sign a case off, let a separate process run the worker's
pre-render job (jobs.documents.render_case_signoff, as the RQ work-horse would), then time,
in a fresh web process as gunicorn would start it, the first and the second GET of
/cases/<number>/signoff.pdf for the desk (full phone) and for a leader (masked phone).

    .venv/bin/python bench/signoff_first_download.py [--rounds 3] [--app-root DIR]

--app-root measures another tree, e.g. a `git archive` snapshot of a commit.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETUP = r"""
import sys
sys.path.insert(0, sys.argv[1])
from flask_migrate import upgrade
from portal import create_app
from portal.extensions import db
from portal.seed import seed_demo
from tests.conftest import make_case, user
from portal.cases import operations as ops
from portal.cases.models import Case, Category
from portal.org.models import OrgUnit
from portal.cases.enums import Kind, Klass, Responsibility, SettlementForm, Validity
import sqlalchemy as sa
app = create_app()
with app.app_context():
    upgrade(directory=sys.argv[1] + "/portal/migrations")
    seed_demo()
    case = make_case()
    cat = db.session.execute(sa.select(Category).where(Category.code == "quality.taste")).scalar_one()
    prod1 = db.session.execute(sa.select(OrgUnit).where(OrgUnit.code == "PROD1")).scalar_one()
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=cat.id)
    ops.dispatch_case(case, user("desk"), case.version, unit_id=prod1.id)
    ops.acknowledge_case(case, user("handler_prod1"), case.version)
    ops.propose_solution(case, user("handler_prod1"), case.version, findings="生产记录正常",
                         root_cause="包装工序", responsibility=Responsibility.DEPARTMENT,
                         responsibility_note="生产一部", solution_form=SettlementForm.PRODUCT,
                         solution_text="赔偿两袋", product_qty=2, multiple=None, cash=None)
    ops.record_implementation(case, user("handler_prod1"), case.version, text="已赔偿")
    ops.record_callback(case, user("desk"), case.version, reached=True, satisfied=True,
                        scores={"score_quality": 5}, comment="满意")
    ops.sign_off_case(case, user("leader_prod1"), case.version, password="demo1234", comment="同意")
    print(case.id, case.number)
"""

JOB = r"""
import sys
sys.path.insert(0, sys.argv[1])
from jobs.documents import render_case_signoff
render_case_signoff(int(sys.argv[2]))
"""

DOWNLOAD = r"""
import json, re, sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
from portal import create_app
app = create_app()
client = app.test_client()
html = client.get("/auth/login").get_data(as_text=True)
token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
client.post("/auth/login", data={"username": sys.argv[3], "password": "demo1234", "csrf_token": token})
client.get("/work")  # the web process has served a page before: only the PDF is new
ready = time.perf_counter()
times = []
for _ in range(2):
    t = time.perf_counter()
    resp = client.get(f"/cases/{sys.argv[2]}/signoff.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF"), resp.status_code
    times.append(time.perf_counter() - t)
print(json.dumps({"first": times[0], "second": times[1], "startup": ready - t0}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--app-root", default=str(ROOT))
    args = ap.parse_args()
    app_root = str(Path(args.app_root).resolve())
    py = str(ROOT / ".venv" / "bin" / "python")
    results: dict[str, list[dict]] = {"desk": [], "leader_prod1": []}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/portal.db", "SECRET_KEY": "bench",
                   "UPLOAD_DIR": f"{tmp}/uploads", "PDF_CACHE_DIR": f"{tmp}/pdf",
                   "PORTAL_INSTANCE": tmp, "TZ": "Asia/Shanghai", "PYTHONPATH": app_root,
                   # Nothing listens there: the enqueue fails fast and the job is run by hand below,
                   # in its own process like a work-horse.
                   "REDIS_URL": "redis://127.0.0.1:1/0"}
            out = subprocess.run([py, "-c", SETUP, app_root], env=env, capture_output=True, text=True,
                                 check=True).stdout.split()
            case_id, number = out[-2], out[-1]
            subprocess.run([py, "-c", JOB, app_root, case_id], env=env, check=True)
            for who in results:
                line = subprocess.run([py, "-c", DOWNLOAD, app_root, number, who], env=env,
                                      capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
                results[who].append(json.loads(line))
    for who, runs in results.items():
        first = statistics.median(r["first"] for r in runs)
        second = statistics.median(r["second"] for r in runs)
        print(f"{who}: first download {first * 1000:.0f} ms, second {second * 1000:.0f} ms "
              f"(median of {len(runs)})")


if __name__ == "__main__":
    main()
