"""The product and batch register as an administrator keeps it: add, edit, deactivate,
search and page; bad input refused in Chinese with nothing saved; a stale form refused;
quality may read the lists and change nothing."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from portal.batches.lookup import search_products
from portal.batches.models import Batch, Product
from portal.extensions import db
from portal.signing.models import AuditEvent
from tests.conftest import count, csrf_from, signed_in, unit


def product(code: str) -> Product:
    return db.session.execute(sa.select(Product).where(Product.code == code)).scalar_one()


def batch(batch_no: str) -> Batch | None:
    db.session.expire_all()
    return db.session.execute(sa.select(Batch).where(Batch.batch_no == batch_no)).scalar_one_or_none()


def batch_form(**overrides) -> dict:
    data = {"batch_no": "20261101 1-07", "product_id": str(product("P001").id),
            "production_date": "2026-11-01", "production_unit_id": str(unit("PROD1").id),
            "line": "2号线", "shift": "夜班", "quantity": "12,000", "shipped_regions": "四川、河南\n北京，四川"}
    data.update(overrides)
    return data


def events(object_type: str) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.object_type == object_type)).scalar_one()


def test_admin_adds_a_batch_with_its_shift_and_regions_and_it_is_audited(app):
    admin, token = signed_in(app, "admin")
    resp = admin.post("/catalog/batches/new", data={**batch_form(), "csrf_token": token})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    b = batch("202611011-07")
    assert (b.product.code, b.production_date, b.production_unit.code, b.line, b.shift, b.quantity) == \
        ("P001", date(2026, 11, 1), "PROD1", "2号线", "夜班", 12000)
    assert b.shipped_regions == ["四川", "河南", "北京"] and b.active
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.object_type == "batch")).scalar_one()
    assert event.action == "batch_created" and event.object_id == b.id
    listed = admin.get("/catalog/batches?q=202611011").get_data(as_text=True)
    assert "202611011-07" in listed and "四川、河南、北京" in listed and "夜班" in listed


def test_bad_batch_is_refused_in_chinese_naming_each_field_and_nothing_is_saved(app):
    admin, token = signed_in(app, "admin")
    before = count(Batch), events("batch")
    resp = admin.post("/catalog/batches/new", data={**batch_form(
        batch_no="2026=1+1", production_date="2099-01-01", quantity="很多", production_unit_id=str(unit("BR-CD").id)),
        "csrf_token": token})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "批号「2026=1+1」无效" in html
    assert "生产日期 2099-01-01 晚于今天" in html
    assert "生产数量「很多」不是整数" in html
    assert "请选择在用的生产部门" in html  # a branch makes no batches
    assert (count(Batch), events("batch")) == before


def test_a_batch_number_already_in_the_register_is_refused(app):
    admin, token = signed_in(app, "admin")
    taken = db.session.execute(sa.select(Batch.batch_no).limit(1)).scalar_one()
    resp = admin.post("/catalog/batches/new", data={**batch_form(batch_no=taken.lower()), "csrf_token": token})
    assert resp.status_code == 400
    assert f"批号「{taken}」已在批号登记中" in resp.get_data(as_text=True)


def test_edit_of_a_batch_changed_since_the_form_was_loaded_is_refused_and_shown(app):
    admin, token = signed_in(app, "admin")
    b = batch("2026090110100")
    stale = str(b.version)
    first = admin.post(f"/catalog/batches/{b.id}", data={**batch_form(
        batch_no=b.batch_no, shift="早班", version=stale), "csrf_token": token})
    assert first.status_code == 303
    second = admin.post(f"/catalog/batches/{b.id}", data={**batch_form(
        batch_no=b.batch_no, shift="晚班", version=stale), "csrf_token": token})
    html = second.get_data(as_text=True)
    assert second.status_code == 409
    assert "批号 2026090110100 已被他人修改" in html
    assert 'value="晚班"' in html  # what was typed is still in the form
    assert batch("2026090110100").shift == "早班"


def test_deactivated_product_is_no_longer_offered_at_intake_and_can_come_back(app):
    admin, token = signed_in(app, "admin")
    p = product("P003")
    resp = admin.post(f"/catalog/products/{p.id}/active", data={"active": "0", "csrf_token": token})
    assert resp.status_code == 303
    db.session.expire_all()
    assert not product("P003").active
    assert "P003" not in {x.code for x in search_products("汤圆")}
    assert "已停用" in admin.get("/catalog/products?q=P003").get_data(as_text=True)
    admin.post(f"/catalog/products/{p.id}/active", data={"active": "1", "csrf_token": token})
    db.session.expire_all()
    assert product("P003").active
    assert [e.action for e in db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.object_type == "product").order_by(AuditEvent.seq)).scalars()] == \
        ["product_deactivated", "product_reactivated"]


def test_deactivated_batch_stays_in_the_register(app):
    admin, token = signed_in(app, "admin")
    b = batch("2026090110100")
    admin.post(f"/catalog/batches/{b.id}/active", data={"active": "0", "csrf_token": token})
    assert batch("2026090110100").active is False
    html = admin.get("/catalog/batches?q=2026090110100&status=inactive").get_data(as_text=True)
    assert "2026090110100" in html


def test_product_price_and_code_are_checked_and_a_good_one_is_saved(app):
    admin, token = signed_in(app, "admin")
    bad = admin.post("/catalog/products/new", data={"code": "P 9", "name": "韭菜水饺", "unit_price": "1.234",
                                                    "csrf_token": token})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "产品编码「P 9」无效" in html and "单价最多两位小数" in html
    taken = admin.post("/catalog/products/new", data={"code": "p001", "name": "三鲜水饺", "csrf_token": token})
    assert "产品编码「P001」已被使用" in taken.get_data(as_text=True)
    good = admin.post("/catalog/products/new", data={"code": "p009", "name": "韭菜水饺", "spec": "1kg/袋",
                                                     "unit_price": "¥25.80", "csrf_token": token})
    assert good.status_code == 303
    p = product("P009")
    assert (p.name, p.spec, str(p.unit_price)) == ("韭菜水饺", "1kg/袋", "25.80")


def test_batch_list_pages_through_the_register_newest_first(app):
    p = product("P002")
    db.session.add_all(Batch(batch_no=f"X{i:03d}", product=p, production_date=date(2026, 1, 1 + i),
                             production_unit=unit("PROD1")) for i in range(12))
    db.session.commit()  # 60 batches: a page of 50 and a second of 10
    admin, _token = signed_in(app, "admin")
    first = admin.get("/catalog/batches").get_data(as_text=True)
    assert "下一页" in first
    rows = db.session.execute(sa.select(Batch.batch_no).order_by(Batch.production_date.desc(),
                                                                  Batch.id.desc())).scalars().all()
    assert first.index(rows[0]) < first.index(rows[1])
    second = admin.get("/catalog/batches?page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in second  # the rows alone, for htmx
    assert all(no in second for no in rows[50:]) and rows[0] not in second


def test_quality_reads_the_lists_but_changes_nothing_and_a_rep_sees_none(app):
    quality, token = signed_in(app, "quality")
    assert 'href="/catalog/batches"' in quality.get("/work").get_data(as_text=True)  # in the main nav
    assert quality.get("/catalog/batches").status_code == 200
    page = quality.get("/catalog/products").get_data(as_text=True)
    assert "P001" in page and "新增产品" not in page and "/catalog/products/" not in page
    b = batch("2026090110100")
    assert quality.get(f"/catalog/batches/{b.id}").status_code == 403
    assert quality.post(f"/catalog/batches/{b.id}/active", data={"active": "0", "csrf_token": token}).status_code == 403
    assert quality.get("/catalog/import").status_code == 403
    rep, _ = signed_in(app, "rep_cd")
    assert rep.get("/catalog/batches").status_code == 403
    assert batch("2026090110100").active


def test_register_pages_and_an_import_report_read_english_for_an_english_reader(app, monkeypatch):
    import io
    from rq import Queue, SimpleWorker
    import jobs.context
    from redis import Redis
    from tests.conftest import leftover_chinese, stored_texts
    monkeypatch.setattr(jobs.context, "_app", app)  # the worker's jobs use the test's app
    conn = Redis.from_url(app.config["REDIS_URL"])
    Queue("default", connection=conn).empty()
    admin, _token = signed_in(app, "admin")
    admin.get("/lang/en")
    token = csrf_from(admin, "/catalog/import")
    bad = "批号,产品编码,生产日期,生产部门\nA1,P001,2026-02-30,PROD1\nA2,P999,2026-01-01,成都分公司\n"
    resp = admin.post("/catalog/import", data={"kind": "batches", "csrf_token": token,
                                               "file": (io.BytesIO(bad.encode()), "b.csv")},
                      content_type="multipart/form-data")
    report = resp.headers["Location"]
    SimpleWorker([Queue("default", connection=conn)], connection=conn).work(burst=True)
    b = batch("2026090110100")
    pages = ["/catalog/batches", "/catalog/batches/new", f"/catalog/batches/{b.id}", "/catalog/products",
             "/catalog/products/new", f"/catalog/products/{product('P001').id}", "/catalog/import", report]
    data = stored_texts()
    problems = {}
    for url in pages:
        html = admin.get(url).get_data(as_text=True)
        if left := leftover_chinese(html[html.index('<main'):], data):
            problems[url] = left
    refused = admin.post("/catalog/batches/new", data={**batch_form(production_date="2099-01-01", quantity="x", shipped_regions="Sichuan"),
                                                        "csrf_token": token}).get_data(as_text=True)
    if left := leftover_chinese(refused[refused.index('<main'):], data):
        problems["refused batch"] = left
    assert not problems, problems
    report_html = admin.get(report).get_data(as_text=True)
    assert "Row 2: Production date “2026-02-30” is not a valid date" in report_html
    assert "Row 3: Product code “P999” is not in the product catalogue.; No active production department" in report_html
