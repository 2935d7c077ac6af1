"""History from day one and production volumes: the ledger imported from CSV/XLSX (monthly
counts or case rows) with all-or-nothing row checks, the counts the dashboard's contracts
return for hand-made data, the volumes entered, imported and read from the batch register."""
from __future__ import annotations

import io
from datetime import date, datetime

import sqlalchemy as sa

from portal.batches.models import Batch, Product
from portal.extensions import db
from portal.reports import history, volumes
from portal.reports.history import LedgerMonth
from portal.reports.volumes import ProductionVolume
from portal.signing.models import AuditEvent
from tests.catalog.test_import import csv_bytes, xlsx_bytes
from tests.conftest import category, count, csrf_from, make_case, make_unit, make_user, signed_in, unit

COUNTS = history.template_header(history.LedgerSource.COUNTS)  # 月份, 投诉类别, 分公司, 投诉数量
CASES = history.template_header(history.LedgerSource.CASES)  # 受理日期, 投诉类别, 分公司


def post_ledger(client, content: bytes, name: str, source: str = "counts"):
    token = csrf_from(client, "/reports/history/")
    return client.post("/reports/history/", data={"source": source, "csrf_token": token,
                                                  "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def post_volumes(client, content: bytes, name: str = "产量.csv"):
    token = csrf_from(client, "/reports/history/volumes")
    return client.post("/reports/history/volumes", data={"upload-csrf_token": token,
                                                         "upload-file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


LEDGER = [  # month, category, branch, count — last year and this year before the first case
    ["2025-01", "产品质量", "成都分公司", 7], ["2025-01", "产品质量/异物", "BR-ZZ", 3],
    ["2025年2月", "服务态度", "成都分公司", 2], ["2025/3", "", "", 4], ["2025-03", "产品质量", "BR-BJ", 1],
    ["2026-01", "产品质量", "成都分公司", 5], ["2026-11", "service_attitude", "郑州分公司", 6],
]


def test_monthly_counts_import_fills_the_months_before_the_first_case(app):
    make_case("desk")  # the portal's first case: this month; the ledger may fill only before it
    quality = signed_in(app, "quality")[0]
    resp = post_ledger(quality, csv_bytes(LEDGER, COUNTS), "台账.csv")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    assert count(LedgerMonth) == 7
    # The contract's figures, summed by hand from the rows above.
    assert history.monthly_counts(2025) == {1: 10, 2: 2, 3: 5}
    assert history.monthly_counts(2026) == {1: 5, 11: 6}

    class F:  # the case list's filter strings, as the dashboard passes them
        branch = product = category = unit = ""
    f = F()
    f.branch = str(unit("BR-CD").id)
    assert history.monthly_counts(2025, f) == {1: 7, 2: 2}
    f.branch, f.category = "", str(category("quality").id)  # with its subcategories (异物)
    assert history.monthly_counts(2025, f) == {1: 10, 3: 1}
    f.category = "none"
    assert history.monthly_counts(2025, f) == {3: 4}
    f.category, f.product = "", str(db.session.execute(sa.select(Product.id)).scalars().first())
    assert history.monthly_counts(2025, f) == {}  # the ledger knows no product: no partial figure
    page = quality.get("/reports/history/").get_data(as_text=True)
    assert "台账.csv" in page and "本系统第一条投诉在" in page
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "ledger_imported")).scalar_one()
    assert event.after["months"] == 7

    # A row for the month the portal already counts is refused, with its row number.
    resp = post_ledger(quality, csv_bytes([["2026-10", "", "", 1], [date.today().strftime("%Y-%m"), "", "", 9]],
                                          COUNTS), "本月.csv")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "第 3 行：" in html and "历史数据只能导入此前的月份" in html
    assert history.monthly_counts(2026) == {1: 5, 11: 6}  # the good row 2 was not written either


def test_case_rows_are_counted_per_month_and_a_reimport_replaces_the_same_month(app):
    admin = signed_in(app, "admin")[0]
    rows = [[datetime(2025, 5, 3, 10, 0), "异物", "成都分公司"], [date(2025, 5, 31), "异物", "成都分公司"],
            ["2025-06-01", "口感差", ""], ["2025/06/15", "口感差", ""], ["2025年6月30日", "", "BR-BJ"]]
    assert post_ledger(admin, xlsx_bytes(rows, CASES), "逐条.xlsx", "cases").status_code == 303
    assert history.monthly_counts(2025) == {5: 2, 6: 3}
    # A counts file for May corrects the same month, category and branch; June stays.
    fix = csv_bytes([["2025-05", "异物", "成都分公司", 4]], COUNTS)
    assert post_ledger(admin, fix, "更正.csv").status_code == 303
    assert history.monthly_counts(2025) == {5: 4, 6: 3}
    assert count(LedgerMonth) == 3


def test_one_bad_row_imports_nothing_and_every_bad_row_is_named(app):
    quality = signed_in(app, "quality")[0]
    rows = [["2025-01", "产品质量", "成都分公司", 7]] + [
        ["2025-13", "产品质量", "成都分公司", 1],          # row 3: no such month
        ["2025-02", "火星类别", "成都分公司", 1],          # row 4: unknown category
        ["2025-02", "产品质量", "上海分公司", "三"],        # row 5: unknown branch and not a number
        ["2025-01", "产品质量", "BR-CD", 2],             # row 6: repeats row 2 (code for the name)
    ] + [[f"{2000 + i // 12}-{i % 12 + 1:02d}", "", "", i] for i in range(200)]  # good rows
    resp = post_ledger(quality, csv_bytes(rows, COUNTS), "有错.csv")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "共 205 行，其中 4 行有错误，没有导入任何行" in html
    assert "第 3 行：月份「2025-13」无效" in html
    assert "第 4 行：找不到投诉类别「火星类别」" in html
    assert "第 5 行：找不到分公司「上海分公司」" in html and "投诉数量「三」不是整数" in html
    assert "第 6 行：「2025-01 产品质量 BR-CD」与第 2 行重复" in html
    assert count(LedgerMonth) == 0 and count(history.LedgerImport) == 0
    resp = post_ledger(quality, csv_bytes([["2025-01", 3]], ["月份", "备注"]), "缺列.csv")
    assert "缺少必填列：投诉数量" in resp.get_data(as_text=True)


def test_formula_looking_cells_are_read_as_text_never_evaluated(app):
    quality = signed_in(app, "quality")[0]
    rows = [["2025-01", "=HYPERLINK(\"http://x\")", "", 1], ["2025-02", "", "@SUM(A1)", 1],
            ["2025-03", "", "", "=2+3"], ["2025-04", "", "", "=2+3"]]
    # The last count is a real formula Excel would show as 5; it has no saved value here.
    resp = post_ledger(quality, xlsx_bytes(rows, COUNTS, formulas={(3, 3)}), "公式.xlsx")
    html = resp.get_data(as_text=True)
    assert "第 2 行：找不到投诉类别「=HYPERLINK(&#34;http://x&#34;)」" in html
    assert "第 3 行：找不到分公司「@SUM(A1)」" in html
    assert "第 4 行：投诉数量「=2+3」不是整数" in html
    assert "第 5 行：请填写投诉数量" in html
    assert count(LedgerMonth) == 0


def test_a_branch_leader_counts_only_the_branch(app):
    make_unit("BR-CD-E", "成都东区办事处", "branch", "BR-CD")
    leader = make_user("leader_cd", "BR-CD", ["leader"])
    signed = signed_in(app, "admin")[0]
    rows = [["2025-01", "", "成都分公司", 2], ["2025-01", "", "成都东区办事处", 3], ["2025-01", "", "郑州分公司", 5],
            ["2025-02", "", "", 1]]
    assert post_ledger(signed, csv_bytes(rows, COUNTS), "分公司.csv").status_code == 303
    assert history.monthly_counts(2025, None, leader) == {1: 5}
    assert history.monthly_counts(2025, None, make_user("leader_p1b", "PROD1", ["leader"])) == {}
    assert history.monthly_counts(2025) == {1: 10, 2: 1}


def _register_units(month_from: date, month_to: date, products=None) -> int:
    """The batch register's quantities summed here, row by row."""
    total = 0
    for b in db.session.execute(sa.select(Batch)).scalars():
        if (month_from <= b.production_date.replace(day=1) <= month_to and b.quantity is not None
                and (products is None or b.product_id in products)):
            total += b.quantity
    return total


def test_units_produced_from_the_register_and_entered_figures_win(app):
    p1, p2 = (db.session.execute(sa.select(Product).where(Product.code == c)).scalar_one() for c in ("P001", "P002"))
    sep, octo = date(2026, 9, 1), date(2026, 10, 1)
    assert volumes.units_produced(date(2024, 1, 1), date(2024, 12, 1)) is None  # nothing known
    assert volumes.units_produced(sep, octo) == _register_units(sep, octo) > 0
    assert volumes.units_produced(sep, sep, [p1.id]) == _register_units(sep, sep, {p1.id})
    quality = signed_in(app, "quality")[0]
    token = csrf_from(quality, "/reports/history/volumes")
    resp = quality.post("/reports/history/volumes", data={"csrf_token": token, "product_id": p1.id,
                                                         "month": "2026-09", "units": "1,000,000", "version": ""})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    assert volumes.units_produced(sep, sep, [p1.id]) == 1_000_000  # the register's 2.4M no longer counts
    assert volumes.units_produced(sep, sep) == _register_units(sep, sep) - _register_units(sep, sep, {p1.id}) + 1_000_000
    assert volumes.units_produced(date(2024, 1, 1), date(2024, 1, 1), [p2.id]) is None
    # The dashboard's one-call form agrees with units_produced month by month.
    assert volumes.units_by_month(sep, octo) == {m: volumes.units_produced(m, m) for m in (sep, octo)}
    # A new entry for a month already entered is refused, pointing to the row to change.
    resp = quality.post("/reports/history/volumes", data={"csrf_token": token, "product_id": p1.id,
                                                         "month": "2026-09", "units": "5", "version": ""})
    assert resp.status_code == 400 and "2026-09 已录入 1,000,000 件；要修改请点下表中的这一行" in resp.get_data(as_text=True)
    # The row's link fills the form with its version; a form loaded before a change is refused.
    edit = quality.get(f"/reports/history/volumes?product={p1.id}&month=2026-09").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in edit and 'value="1000000"' in edit
    assert quality.post("/reports/history/volumes", data={"csrf_token": token, "product_id": p1.id, "month": "2026-09",
                                                          "units": "1200000", "version": "1"}).status_code == 303
    resp = quality.post("/reports/history/volumes", data={"csrf_token": token, "product_id": p1.id,
                                                         "month": "2026-09", "units": "5", "version": "1"})
    assert resp.status_code == 400 and "的产量刚被他人修改，请查看后重新填写" in resp.get_data(as_text=True)
    assert volumes.units_produced(sep, sep, [p1.id]) == 1_200_000
    # Emptied: back to the register.
    resp = quality.post("/reports/history/volumes", data={"csrf_token": token, "product_id": p1.id,
                                                         "month": "2026-09", "units": "", "version": "2"})
    assert resp.status_code == 303
    assert volumes.units_produced(sep, sep, [p1.id]) == _register_units(sep, sep, {p1.id})


def test_volume_import_is_all_or_nothing_and_then_counts(app):
    admin = signed_in(app, "admin")[0]
    header = [c.headers[0] for c in volumes.COLUMNS]
    bad = [["P001", "2025-01", 100], ["P999", "2025-01", 5], ["P002", "2025-1", "-3"], ["p001", "2025年1月", 7]]
    html = post_volumes(admin, csv_bytes(bad, header)).get_data(as_text=True)
    assert "第 3 行：产品编码「P999」不在产品目录中" in html and "第 4 行：生产数量须在 0 到" in html
    assert "第 5 行：「P001 2025-01」与第 2 行重复" in html
    assert count(ProductionVolume) == 0
    good = [["P001", "2025-01", 100], ["P002", "2025-01", 50], ["P001", "2025-02", "=1+1"]]
    html = post_volumes(admin, csv_bytes(good, header)).get_data(as_text=True)
    assert "第 4 行：生产数量「=1+1」不是整数" in html and count(ProductionVolume) == 0
    resp = post_volumes(admin, xlsx_bytes(good[:2] + [["P001", date(2025, 2, 14), 30]], header), "产量.xlsx")
    assert resp.status_code == 303
    assert volumes.units_produced(date(2025, 1, 1), date(2025, 2, 1)) == 180
    assert volumes.units_produced(date(2025, 1, 1), date(2025, 1, 1), list(db.session.execute(sa.select(Product.id)).scalars())) == 150


def test_who_may_see_and_change_history(app):
    assert signed_in(app, "rep_cd")[0].get("/reports/history/").status_code == 403
    desk = signed_in(app, "desk")[0]
    page = desk.get("/reports/history/volumes")
    assert page.status_code == 200 and "保存产量" not in page.get_data(as_text=True)
    token = csrf_from(desk, "/reports/history/")
    resp = desk.post("/reports/history/", data={"source": "counts", "csrf_token": token,
                                                "file": (io.BytesIO(csv_bytes([["2025-01", "", "", 1]], COUNTS)),
                                                         "x.csv")}, content_type="multipart/form-data")
    assert resp.status_code == 403 and count(LedgerMonth) == 0


def test_the_dashboards_year_over_year_chart_shows_the_imported_ledger(app):
    import json
    import re
    make_case("desk")  # this month: from here on the cases count
    assert post_ledger(signed_in(app, "quality")[0], csv_bytes(LEDGER, COUNTS), "台账.csv").status_code == 303
    html = signed_in(app, "ceo")[0].get("/reports/?month_from=2025-01&month_to=2025-12").get_data(as_text=True)
    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', html, re.S).group(1))
    chart = next(c for c in data["charts"] if c["id"] == "yoy")
    year_2025, year_2024 = ([p["value"] for p in s["data"]] for s in chart["series"])
    assert year_2025 == [10, 2, 5] + [0] * 9 and year_2024 == [0] * 12
