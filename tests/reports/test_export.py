"""Exports of the case list: the files opened back with csv and openpyxl as a user's Excel
would, formula-looking cells still text, the viewer's scope and phone masking, the list's
filters, and a big export run by a real RQ worker with its progress and download."""
from __future__ import annotations

import csv
import io
import re
import time

import openpyxl
import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue

from portal.extensions import db
from portal.signing.models import AuditEvent
from tests.conftest import make_case, make_user, signed_in, start_burst_worker, unit

FORMULAS = ["=HYPERLINK(\"http://evil\",\"点我\")", "+86 1+1", "-2+3", "@SUM(A1:A2)"]


def cases_with_formulas():
    """Four cases of 成都 whose customer names look like formulas, one of 郑州."""
    for name in FORMULAS:
        make_case("rep_cd", customer_name=name, batch_no="EXP0001", customer_phone="13912345678")
    make_case("rep_zz", customer_name="郑州顾客", batch_no="EXP0001", customer_phone="13700001111")


def rows_of_csv(resp) -> list[list[str]]:
    body = resp.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads the Chinese as UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def sheet_of_xlsx(resp):
    return openpyxl.load_workbook(io.BytesIO(resp.get_data()), read_only=False).active


def test_csv_export_has_a_bom_chinese_header_and_formula_looking_cells_quoted_as_text(app):
    cases_with_formulas()
    desk, _ = signed_in(app, "desk")
    resp = desk.get("/reports/export/cases.csv?batch=EXP0001&sort=received")
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.mimetype == "text/csv"
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    rows = rows_of_csv(resp)
    header = rows[0]
    assert header[:3] == ["编号", "受理时间", "状态"]
    names = [r[header.index("顾客")] for r in rows[1:]]
    # Oldest first (the list's own sort): each formula behind a quote, the plain name as it is.
    assert names == ["'" + f for f in FORMULAS] + ["郑州顾客"]
    # The desk sees whole phones on the case page, so in its export too.
    assert {r[header.index("电话")] for r in rows[1:]} == {"13912345678", "13700001111"}


def test_xlsx_export_opens_in_openpyxl_with_formula_looking_cells_as_text(app):
    cases_with_formulas()
    desk, _ = signed_in(app, "desk")
    resp = desk.get("/reports/export/cases.xlsx?batch=EXP0001&sort=received")
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ws = sheet_of_xlsx(resp)
    header = [c.value for c in ws[1]]
    assert header[:2] == ["编号", "受理时间"] and ws["A1"].font.b  # a bold header
    col = header.index("顾客") + 1
    cells = [ws.cell(row=r, column=col) for r in range(2, ws.max_row + 1)]
    assert [c.value for c in cells] == FORMULAS + ["郑州顾客"]
    assert {c.data_type for c in cells} == {"s"}  # strings, not formulas ("f")
    assert ws.max_row == 6
    numbers = [ws.cell(row=r, column=1).value for r in range(2, 7)]
    assert all(re.fullmatch(r"KS\d{4}-\d{6}", n) for n in numbers)


def test_an_export_keeps_the_viewers_scope_and_masks_phones_as_their_pages_do(app):
    cases_with_formulas()
    make_user("leader_cd", "BR-CD", ["leader"])  # a branch leader: the cases of 成都 only
    leader, _ = signed_in(app, "leader_cd")
    rows = rows_of_csv(leader.get("/reports/export/cases.csv?batch=EXP0001"))
    header = rows[0]
    assert len(rows) == 1 + len(FORMULAS)
    assert {r[header.index("分公司")] for r in rows[1:]} == {unit("BR-CD").name}
    # Leaders see phones masked on every page: the export too.
    assert {r[header.index("电话")] for r in rows[1:]} == {"139****5678"}
    ws = sheet_of_xlsx(leader.get("/reports/export/cases.xlsx?batch=EXP0001"))
    phone = [c.value for c in ws[1]].index("电话") + 1
    assert {ws.cell(row=r, column=phone).value for r in range(2, ws.max_row + 1)} == {"139****5678"}
    # Each file is audited: who, which list, how many rows.
    events = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "cases_exported")
                                .order_by(AuditEvent.seq)).scalars().all()
    assert [(e.actor_name, e.after["format"], e.after["filters"], e.after["rows"]) for e in events] == [
        ("leader_cd", "csv", {"batch": "EXP0001"}, 4), ("leader_cd", "xlsx", {"batch": "EXP0001"}, 4)]
    # A rep may not take cases away in a file, and the list offers them no button.
    rep, _ = signed_in(app, "rep_cd")
    assert rep.get("/reports/export/cases.csv").status_code == 403
    assert "data-export" not in rep.get("/cases/").get_data(as_text=True)


def test_the_list_filters_and_its_button_carry_over(app):
    cases_with_formulas()
    make_case("rep_cd", customer_name="别的批号", batch_no="EXP0002")
    desk, _ = signed_in(app, "desk")
    page = desk.get("/cases/?batch=EXP0002").get_data(as_text=True)
    assert 'href="/reports/export/cases.xlsx?batch=EXP0002"' in page
    rows = rows_of_csv(desk.get("/reports/export/cases.csv?batch=EXP0002"))
    assert [r[rows[0].index("顾客")] for r in rows[1:]] == ["别的批号"]
    rows = rows_of_csv(desk.get("/reports/export/cases.csv?batch=EXP0001&branch=%d" % unit("BR-ZZ").id))
    assert [r[rows[0].index("顾客")] for r in rows[1:]] == ["郑州顾客"]


def test_the_writers_other_reports_use_take_any_rows(app):
    from portal.reports.export import csv_response, xlsx_response
    with app.test_request_context():
        rows = iter([("生产一部", 12, 0.875, None), ("=1+1", -3, 1.0, "@x")])
        body = b"".join(csv_response("考核.csv", ["部门", "件数", "达成率", "备注"], rows).response)
        assert body.decode("utf-8-sig").splitlines() == ["部门,件数,达成率,备注", "生产一部,12,0.875,",
                                                         "'=1+1,-3,1.0,'@x"]
        body = b"".join(xlsx_response("考核.xlsx", ["部门", "件数"], iter([("=1+1", -3)])).response)
    ws = openpyxl.load_workbook(io.BytesIO(body)).active
    assert (ws["A2"].value, ws["A2"].data_type, ws["B2"].value) == ("=1+1", "s", -3)  # a number stays one


HTMX_STOP_POLLING = 286
PROGRESS = re.compile(r'<progress max="(\d+)" value="(\d+)"')


@pytest.fixture
def rq_redis(app):
    conn = Redis.from_url(app.config["REDIS_URL"])
    Queue("default", connection=conn).empty()
    return conn


def test_a_big_export_runs_in_a_worker_with_progress_then_downloads(app, rq_redis, tmp_path):
    for i in range(3):
        make_case("rep_cd", customer_name=f"顾客{i}", batch_no="EXP0003")
    app.config["EXPORT_STREAM_MAX"] = 2  # three cases: more than a request streams
    try:
        desk, _ = signed_in(app, "desk")
        resp = desk.get("/reports/export/cases.xlsx?batch=EXP0003")
    finally:
        app.config.pop("EXPORT_STREAM_MAX")
    assert resp.status_code == 303
    page_url = resp.headers["Location"]
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "cases_exported")).scalar_one()
    assert (event.actor_name, event.after) == ("张敏", {"format": "xlsx", "filters": {"batch": "EXP0003"},
                                                       "rows": None})
    first = desk.get(page_url).get_data(as_text=True)
    assert "排队中" in first and 'hx-trigger="every 1s"' in first  # the page polls itself
    # Somebody else cannot see the job, nor fetch its file.
    quality, _ = signed_in(app, "quality")
    assert quality.get(page_url).status_code == 404
    assert quality.get(page_url + "/file").status_code == 404
    assert desk.get(page_url + "/file").status_code == 404  # not ready yet

    worker = start_burst_worker(app, tmp_path, "default")
    try:
        deadline = time.monotonic() + 60
        while True:
            poll = desk.get(page_url, headers={"HX-Request": "true"})
            if poll.status_code == HTMX_STOP_POLLING or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    html = poll.get_data(as_text=True)
    assert poll.status_code == HTMX_STOP_POLLING, output[-3000:]
    assert "共 3 条。" in html and "<progress" not in html, output[-3000:]
    download = desk.get(page_url + "/file")
    assert download.status_code == 200
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(download.get_data())).active
    col = [c.value for c in ws[1]].index("顾客") + 1
    assert sorted(ws.cell(row=r, column=col).value for r in range(2, ws.max_row + 1)) == ["顾客0", "顾客1", "顾客2"]


def test_a_big_export_whose_worker_failed_says_so(app, rq_redis):
    make_case("rep_cd", batch_no="EXP0004")
    make_case("rep_cd", batch_no="EXP0004")
    app.config["EXPORT_STREAM_MAX"] = 1
    try:
        desk, _ = signed_in(app, "desk")
        page_url = desk.get("/reports/export/cases.csv?batch=EXP0004").headers["Location"]
    finally:
        app.config.pop("EXPORT_STREAM_MAX")
    Queue("default", connection=rq_redis).empty()  # the job is gone: as if RQ had lost it
    poll = desk.get(page_url, headers={"HX-Request": "true"})
    assert poll.status_code == HTMX_STOP_POLLING
    assert "没有生成文件" in poll.get_data(as_text=True)


def test_export_files_past_their_day_are_purged_and_newer_ones_kept(app):
    import os

    from portal.reports.export import export_dir, purge_exports
    old, new, part = (export_dir() / name for name in ("old.xlsx", "new.csv", "half.part"))
    for path in (old, new, part):
        path.write_bytes(b"x")
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    os.utime(part, (day_ago, day_ago))
    assert purge_exports() == 2
    assert (old.exists(), part.exists(), new.exists()) == (False, False, True)
    new.unlink()
