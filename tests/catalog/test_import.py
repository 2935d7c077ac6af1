"""Importing the register from CSV and XLSX, run by a real RQ worker on a real Redis: every
row is checked, a file with one bad row imports nothing and names the row, a good file
imports with its progress shown while the worker runs, and cells that look like formulas
are stored as the text they are."""
from __future__ import annotations

import io
import re
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue, SimpleWorker

from portal.batches.models import Batch, Product
from portal.catalog.importing import template_header
from portal.catalog.models import ImportJob, ImportKind, ImportStatus
from portal.extensions import db
from portal.signing.models import AuditEvent
from tests.conftest import count, signed_in, start_burst_worker

HEADER = template_header(ImportKind.BATCHES)  # 批号, 产品编码, 生产日期, 生产部门, 生产线, 班次, 生产数量, 发往地区
PROGRESS = re.compile(r'<progress max="(\d+)" value="(\d+)"')
HTMX_STOP_POLLING = 286


def batch_rows(n: int, prefix: str = "IMP") -> list[list]:
    """n good batch rows, spread over the demo products and both production departments."""
    products = ["P001", "P002", "P003", "P004", "P005", "P006", "P007", "P008"]
    return [[f"{prefix}{i:06d}", products[i % 8], (date(2026, 1, 1) + timedelta(days=i % 300)).isoformat(),
             "生产一部" if i % 2 else "PROD2", f"{i % 3 + 1}号线", ("早班", "中班", "晚班")[i % 3],
             10_000 + i, "四川、河南" if i % 2 else "北京"] for i in range(n)]


def csv_bytes(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    import csv
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEADER, formulas=()) -> bytes:
    """An .xlsx whose text cells are text even when they start with = (as Excel saves a cell
    typed as '=1+1); `formulas` are (row index, column index) cells saved as real formulas."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for r, row in enumerate(rows):
        cells = []
        for c, value in enumerate(row):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str) and (r, c) not in formulas:
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, token, content: bytes, name: str, kind: str = "batches"):
    return client.post("/catalog/import", data={"kind": kind, "csrf_token": token,
                                                "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def job_of(resp) -> ImportJob:
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    db.session.expire_all()
    return db.session.get(ImportJob, job_id)


@pytest.fixture
def rq_redis(app):
    """The app's Redis (this helper's database), its default queue emptied first."""
    conn = Redis.from_url(app.config["REDIS_URL"])
    Queue("default", connection=conn).empty()
    return conn


@pytest.fixture
def work_queue(app, rq_redis, monkeypatch):
    """Run what is queued with an RQ SimpleWorker in this process, the job's app being the
    test's (jobs.context builds one from the environment otherwise)."""
    import jobs.context
    monkeypatch.setattr(jobs.context, "_app", app)

    def run():
        SimpleWorker([Queue("default", connection=rq_redis)], connection=rq_redis).work(burst=True)
        db.session.expire_all()
    return run


def imported_events() -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "catalog_imported")).scalar_one()


def test_a_10000_row_file_with_one_bad_row_imports_nothing_and_names_the_row(app, work_queue):
    admin, token = signed_in(app, "admin")
    rows = batch_rows(10_000)
    rows[5676][1] = "P999"  # spreadsheet row 5678: the header is row 1
    before = count(Batch)
    job = job_of(upload(admin, token, csv_bytes(rows), "批号导入.csv"))
    assert job.status is ImportStatus.QUEUED
    work_queue()
    db.session.refresh(job)
    assert job.status is ImportStatus.REFUSED and job.error_count == 1
    page = admin.get(f"/catalog/import/{job.id}").get_data(as_text=True)
    assert "第 5678 行：产品编码「P999」不在产品目录中。" in page
    assert "共 10,000 行，其中 1 行有错误，没有导入任何行" in page
    assert count(Batch) == before and imported_events() == 0
    assert not db.session.execute(sa.select(Batch.id).where(Batch.batch_no.like("IMP%"))).first()


def test_every_bad_row_is_reported_with_its_reason(app, work_queue):
    admin, token = signed_in(app, "admin")
    rows = batch_rows(6)
    rows[1][2] = "2026-02-30"
    rows[2][3] = "成都分公司"  # a branch, not a production department
    rows[3][0] = rows[0][0]
    rows[4][6] = "-5"
    job = job_of(upload(admin, token, csv_bytes(rows), "b.csv"))
    work_queue()
    page = admin.get(f"/catalog/import/{job.id}").get_data(as_text=True)
    assert "第 3 行：生产日期「2026-02-30」不是有效日期" in page
    assert "第 4 行：找不到在用的生产部门「成都分公司」" in page
    assert "第 5 行：「IMP000000」与第 2 行重复。" in page
    assert "第 6 行：生产数量须在 0 到" in page
    assert "其中 4 行有错误" in page


def test_a_good_10000_row_xlsx_imports_with_its_progress_shown(app, rq_redis, tmp_path):
    admin, token = signed_in(app, "admin")
    existing = db.session.execute(sa.select(Batch).where(Batch.batch_no == "2026090110100")).scalar_one()
    version = existing.version
    rows = batch_rows(9_999) + [["2026090110100", "P001", "2026-09-01", "PROD1", "1号线", "夜班", 400000,
                                 "四川、重庆、贵州"]]
    before = count(Batch)
    job = job_of(upload(admin, token, xlsx_bytes(rows), "批号.xlsx"))
    first = admin.get(f"/catalog/import/{job.id}").get_data(as_text=True)
    assert "排队中" in first and 'hx-trigger="every 1s"' in first  # the page polls itself

    worker = start_burst_worker(app, tmp_path, "default")
    seen: list[tuple[int, int]] = []
    try:
        deadline = time.monotonic() + 180
        while True:
            poll = admin.get(f"/catalog/import/{job.id}", headers={"HX-Request": "true"})
            html = poll.get_data(as_text=True)
            if m := PROGRESS.search(html):
                seen.append((int(m.group(1)), int(m.group(2))))
            if poll.status_code == HTMX_STOP_POLLING or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert poll.status_code == HTMX_STOP_POLLING, output[-3000:]
    assert "新增 9,999 条，更新 1 条。" in html, output[-4000:]
    assert "<progress" not in html  # the finished block neither polls nor shows a bar
    # The bar moved while the worker checked: a part of the rows, of all 10,000.
    assert any(total == 10_000 and 0 < done < 10_000 for total, done in seen), seen
    assert [done for _, done in seen] == sorted(done for _, done in seen)

    assert count(Batch) == before + 9_999
    db.session.expire_all()
    b = db.session.execute(sa.select(Batch).where(Batch.batch_no == "IMP000007")).scalar_one()
    assert (b.product.code, b.production_unit.code, b.shift, b.quantity, b.shipped_regions) == \
        ("P008", "PROD1", "中班", 10_007, ["四川", "河南"])
    updated = db.session.get(Batch, existing.id)
    assert (updated.shift, updated.shipped_regions, updated.version) == \
        ("夜班", ["四川", "重庆", "贵州"], version + 1)
    assert imported_events() == 1
    assert not list((Path(app.config["UPLOAD_DIR"]) / "imports").glob(job.stored_name + "*"))  # file, spool


def test_formula_looking_cells_stay_text_and_a_real_formula_is_not_evaluated(app, work_queue):
    admin, token = signed_in(app, "admin")
    rows = batch_rows(2, prefix="FX")
    rows[0][4:8] = ["=1+1", "@SUM(A1)", 5, "+86四川、-河南、=HYPERLINK(\"evil\")"]
    rows[1][4] = "=2+3"  # saved as a formula with no cached value: nothing, never 5
    job = job_of(upload(admin, token, xlsx_bytes(rows, formulas={(1, 4)}), "fx.xlsx"))
    work_queue()
    db.session.refresh(job)
    assert job.status is ImportStatus.DONE, job.errors or job.message
    first, second = (db.session.execute(sa.select(Batch).where(Batch.batch_no == no)).scalar_one()
                     for no in ("FX000000", "FX000001"))
    assert (first.line, first.shift) == ("=1+1", "@SUM(A1)")
    assert first.shipped_regions == ["+86四川", "-河南", '=HYPERLINK("evil")']
    assert second.line is None

    products = csv_bytes([["P100", "=cmd|' /C calc'!A0", "-1g", ""], ["P101", "@黑芝麻", "+500g", "3.50"]],
                         header=template_header(ImportKind.PRODUCTS))
    job = job_of(upload(admin, token, products, "products.csv", kind="products"))
    work_queue()
    names = dict(db.session.execute(sa.select(Product.code, Product.name).where(Product.code.in_(("P100", "P101")))).all())
    assert names == {"P100": "=cmd|' /C calc'!A0", "P101": "@黑芝麻"}
    listed = admin.get("/catalog/products?q=P10").get_data(as_text=True)
    assert "=cmd|&#39; /C calc&#39;!A0" in listed  # shown as the text it is


def test_a_gbk_csv_from_excel_imports_and_a_file_without_the_columns_is_refused(app, work_queue):
    admin, token = signed_in(app, "admin")
    job = job_of(upload(admin, token, csv_bytes(batch_rows(3, prefix="GBK"), encoding="gbk"), "excel.csv"))
    work_queue()
    db.session.refresh(job)
    assert job.status is ImportStatus.DONE and job.created_rows == 3
    assert db.session.execute(sa.select(Batch.shift).where(Batch.batch_no == "GBK000001")).scalar_one() == "中班"

    job = job_of(upload(admin, token, csv_bytes([["X1", "P001"]], header=["批号", "产品"]), "short.csv"))
    work_queue()
    page = admin.get(f"/catalog/import/{job.id}").get_data(as_text=True)
    assert "缺少必填列：产品编码、生产日期、生产部门" in page


def test_a_file_that_is_no_spreadsheet_is_refused_at_upload_and_nothing_is_queued(app, rq_redis):
    admin, token = signed_in(app, "admin")
    resp = upload(admin, token, b"\xd0\xcf\x11\xe0 old excel", "old.xls")
    assert resp.status_code == 400
    assert "只能导入 CSV（.csv）或 Excel（.xlsx）文件" in resp.get_data(as_text=True)
    resp = upload(admin, token, b"not a zip", "fake.xlsx")
    assert resp.status_code == 400 and "不是有效的 Excel（.xlsx）文件" in resp.get_data(as_text=True)
    assert count(ImportJob) == 0 and Queue("default", connection=rq_redis).count == 0
    assert not list((Path(app.config["UPLOAD_DIR"]) / "imports").glob("*"))


def test_an_import_whose_worker_is_killed_is_offered_again_and_then_imports_once(app, rq_redis, tmp_path):
    import os
    import signal
    admin, token = signed_in(app, "admin")
    before = count(Batch)
    job = job_of(upload(admin, token, xlsx_bytes(batch_rows(10_000, prefix="KIL")), "批号.xlsx"))
    worker = start_burst_worker(app, tmp_path, "default")
    try:
        deadline = time.monotonic() + 120
        while True:  # kill the work-horse (the worker's child) once it is checking rows
            db.session.expire_all()
            horses = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split() \
                if worker.poll() is None else []
            if horses and db.session.get(ImportJob, job.id).done_rows > 0:
                os.kill(int(horses[0]), signal.SIGKILL)
                break
            assert time.monotonic() < deadline and worker.poll() is None, "the worker never got to the rows"
            time.sleep(0.05)
        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    poll = admin.get(f"/catalog/import/{job.id}", headers={"HX-Request": "true"})
    html = poll.get_data(as_text=True)
    assert poll.status_code == HTMX_STOP_POLLING, output[-2000:]  # nothing more will happen: stop
    assert "后台任务在导入途中中断" in html and "重新开始导入" in html
    assert count(Batch) == before

    assert admin.post(f"/catalog/import/{job.id}/restart", data={"csrf_token": token}).status_code == 303
    worker = start_burst_worker(app, tmp_path, "default")
    output, _ = worker.communicate(timeout=180)
    db.session.expire_all()
    assert db.session.get(ImportJob, job.id).status is ImportStatus.DONE, output[-2000:]
    assert count(Batch) == before + 10_000
    assert "新增 10,000 条" in admin.get(f"/catalog/import/{job.id}").get_data(as_text=True)
    assert [e.action for e in db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.object_type == "import_job").order_by(AuditEvent.seq)).scalars()] == \
        ["catalog_import_started", "catalog_import_restarted", "catalog_imported"]
