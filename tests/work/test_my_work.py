"""我的待办: every waiting case can be reached a page at a time, the total matches the badge,
and the step / overdue / search filters narrow it (issue 10, item 4)."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from portal.cases.models import Case
from portal.clock import utcnow
from portal.extensions import db
from tests.conftest import make_case, make_case_at

ROW_NUMBER = re.compile(r'<td class="num"><a href="[^"]*">(KS\d{4}-\d{6})</a>')
BADGE = re.compile(r'class="badge[^"]*"[^>]*>(\d+)</span>')


def rows(client, **args) -> list[str]:
    resp = client.get("/work", query_string=args)
    assert resp.status_code == 200
    return ROW_NUMBER.findall(resp.get_data(as_text=True))


def badge(client) -> int:
    m = BADGE.search(client.get("/work/count").get_data(as_text=True))
    return int(m.group(1)) if m else 0


def test_more_than_200_waiting_cases_are_all_reachable_and_the_total_matches_the_badge(app, as_user):
    numbers = {make_case().number for _ in range(205)}  # each waits for the desk's 核实
    desk = as_user("desk")
    assert badge(desk) == 205
    first = desk.get("/work").get_data(as_text=True)
    assert "共 205 件待办" in first and "第 1 / 5 页" in first  # 50 a page
    seen = []
    for page in range(1, 6):
        page_rows = rows(desk, page=page)
        assert len(page_rows) == (50 if page < 5 else 5)
        seen += page_rows
    assert len(seen) == len(set(seen)) == 205 and set(seen) == numbers
    last = desk.get("/work", query_string={"page": 5}).get_data(as_text=True)
    assert "下一页" not in last and "上一页" in last


def test_step_filter_offers_the_steps_waiting_with_their_counts(app, as_user):
    approve = make_case_at("proposed").number  # major: waits for 生产一部's leader
    sign_off = make_case_at("called_back").number
    leader = as_user("leader_prod1")
    page = leader.get("/work").get_data(as_text=True)
    assert "全部（2）" in page and "领导批示（1）" in page and "领导签字结案（1）" in page
    assert rows(leader, step="approve") == [approve]
    assert rows(leader, step="sign_off") == [sign_off]
    assert rows(leader, only="approve") == [approve]  # the old link still works
    assert set(rows(leader, step="nonsense")) == {approve, sign_off}
    # Somebody with one kind of work is not offered a choice of one.
    make_case()
    assert 'name="step"' not in as_user("desk").get("/work").get_data(as_text=True)


def test_overdue_filter_shows_only_what_is_past_its_time_limit(app, as_user):
    on_time = make_case(customer_name="王秀英").number
    late = make_case(customer_name="李娜").number
    db.session.execute(sa.update(Case).where(Case.number == late).values(due_at=utcnow() - timedelta(hours=2)))
    db.session.commit()
    desk = as_user("desk")
    assert rows(desk, overdue="1") == [late]
    assert rows(desk) == [late, on_time]  # nearest time limit first
    assert "符合条件的待办 1 件" in desk.get("/work", query_string={"overdue": "1"}).get_data(as_text=True)


def test_search_finds_by_number_phone_end_and_name(app, as_user):
    a = make_case(customer_name="王秀英", customer_phone="0371-55551234").number
    b = make_case(customer_name="李娜", customer_phone="13912345678").number
    desk = as_user("desk")
    assert rows(desk, q=b) == [b]
    assert rows(desk, q="1234") == [a]
    assert rows(desk, q="0371-55551234") == [a]
    assert rows(desk, q="李娜") == [b]
    html = desk.get("/work", query_string={"q": "没有这个人"}).get_data(as_text=True)
    assert "没有符合条件的待办。" in html and "暂无待办" not in html


def test_htmx_fragment_is_the_rows_and_refreshes_with_its_own_filters(app, as_user):
    make_case(customer_name="王秀英")
    late = make_case(customer_name="李娜").number
    db.session.execute(sa.update(Case).where(Case.number == late).values(due_at=utcnow() - timedelta(hours=2)))
    db.session.commit()
    resp = as_user("desk").get("/work", query_string={"overdue": "1", "q": "李"}, headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert "<html" not in html and 'id="work-filters"' not in html
    assert ROW_NUMBER.findall(html) == [late]
    # The self-refreshing block asks again for what it shows, not for the unfiltered list.
    refresh = re.search(r'id="work-list" hx-get="([^"]+)"', html).group(1)
    assert "overdue=1" in refresh and "q=" in refresh


def test_my_work_urls_stay_where_they_were(app, as_user):
    desk = as_user("desk")
    assert desk.get("/").headers["Location"].endswith("/work")
    assert desk.get("/work").status_code == 200 and desk.get("/work/count").status_code == 200


def test_my_work_filters_read_in_english(app, as_user):
    make_case_at("proposed")
    make_case_at("called_back")
    leader = as_user("leader_prod1")
    html = leader.get("/work", query_string={"lang": "en"}).get_data(as_text=True)
    assert "All (2)" in html and "Overdue only" in html and "2 tasks in all" in html
    assert "（" not in html.split('id="work-filters"')[1].split("</form>")[0]
