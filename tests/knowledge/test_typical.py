"""Typical cases (典型案例, issue 13 item 7): quality or a leader marks a closed case typical
with lessons and tags; every member of staff finds it in the knowledge base with the same
search as the case list, the customer masked. Runs on PostgreSQL and SQLite."""
from __future__ import annotations

from portal.extensions import db
from portal.knowledge.models import TypicalCase
from portal.knowledge.queries import masked_name
from tests.conftest import count, csrf_from, last_event, make_case, make_case_at

LESSONS = "先电话致歉再上门，带同批次留样当面比对，顾客当场接受"


def mark(client, number, **data):
    token = csrf_from(client, f"/reports/typical/{number}")
    return client.post(f"/reports/typical/{number}", data={"csrf_token": token, **data})


def test_a_closed_case_marked_typical_is_found_by_all_staff_with_the_customer_masked(app, as_user):
    case = make_case_at("closed")  # 王秀英, 13912345678, 成都市武侯区, 三鲜水饺, 一根头发
    make_case_at("closed")  # a second closed case, not typical
    resp = mark(as_user("quality"), case.number, lessons=LESSONS, tags="异物，头发 赔偿沟通 头发")
    assert resp.status_code == 303
    typical = db.session.query(TypicalCase).one()
    assert typical.tags == "异物 头发 赔偿沟通"
    assert last_event(case).action == "typical.mark"

    # A handler of another department and a rep of another branch cannot open the case,
    # but read the knowledge base.
    for username in ("handler_prod2", "rep_zz"):
        reader = as_user(username)
        assert reader.get(f"/cases/{case.number}").status_code == 404
        html = reader.get("/reports/typical/", query_string={"q": "头发"}).get_data(as_text=True)
        assert LESSONS in html and html.count('class="card typical-entry"') == 1
        assert "王*" in html and "139****5678" in html
        assert "王秀英" not in html and "秀英" not in html
        assert "13912345678" not in html and "成都市武侯区" not in html
    reader = as_user("rep_zz")
    assert LESSONS in reader.get("/reports/typical/", query_string={"q": "水饺"}).get_data(as_text=True)
    assert LESSONS in reader.get("/reports/typical/", query_string={"q": "上门"}).get_data(as_text=True)  # lessons
    assert LESSONS in reader.get("/reports/typical/", query_string={"tag": "异物"}).get_data(as_text=True)
    assert LESSONS not in reader.get("/reports/typical/", query_string={"tag": "异"}).get_data(as_text=True)
    assert LESSONS not in reader.get("/reports/typical/", query_string={"q": "汤圆"}).get_data(as_text=True)


def test_an_open_case_or_empty_lessons_are_refused_and_nothing_is_saved(app, as_user):
    quality = as_user("quality")
    open_case = make_case()
    resp = mark(quality, open_case.number, lessons=LESSONS)
    assert resp.status_code == 409
    assert "尚未结案" in resp.get_data(as_text=True)
    closed = make_case_at("closed")
    resp = mark(quality, closed.number, lessons="  ")
    assert resp.status_code == 400
    assert "请填写处理心得" in resp.get_data(as_text=True)
    assert count(TypicalCase) == 0


def test_only_quality_and_leaders_mark(app, as_user):
    case = make_case_at("closed")
    assert as_user("desk").get(f"/reports/typical/{case.number}").status_code == 403
    assert "标为典型案例" not in as_user("desk").get(f"/cases/{case.number}").get_data(as_text=True)
    assert "标为典型案例" in as_user("leader_prod1").get(f"/cases/{case.number}").get_data(as_text=True)
    assert mark(as_user("leader_prod1"), case.number, lessons=LESSONS).status_code == 303


def test_a_stale_edit_is_a_conflict_shown_in_the_page(app, as_user):
    case = make_case_at("closed")
    quality, leader = as_user("quality"), as_user("leader_prod1")
    mark(quality, case.number, lessons=LESSONS)
    mark(leader, case.number, lessons="领导补充的心得", version="1")
    resp = mark(quality, case.number, lessons="品保的旧稿", version="1")
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "已被他人修改" in html
    assert "领导补充的心得" in html and 'name="version" type="hidden" value="2"' in html
    assert db.session.query(TypicalCase).one().lessons == "领导补充的心得"


def test_unmark_takes_it_out_of_the_knowledge_base(app, as_user):
    case = make_case_at("closed")
    quality = as_user("quality")
    mark(quality, case.number, lessons=LESSONS)
    token = csrf_from(quality, f"/reports/typical/{case.number}")
    resp = quality.post(f"/reports/typical/{case.number}/unmark", data={"csrf_token": token, "version": "1"})
    assert resp.status_code == 303
    assert count(TypicalCase) == 0
    assert last_event(case).action == "typical.unmark"
    assert "没有符合条件的典型案例" in quality.get("/reports/typical/").get_data(as_text=True)


def test_masked_names():
    assert masked_name("王秀英") == "王*"
    assert masked_name("王先生") == "王先生"
    assert masked_name("欧阳女士") == "欧女士"
    assert masked_name("先生") == "先*"
