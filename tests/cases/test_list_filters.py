"""The case list's filters, search and paging, as a user drives them (issue 10, items 2, 3, 10, 27).

Runs on PostgreSQL and on SQLite (`TEST_DB=sqlite`): dates and phone suffixes are exactly
where the two databases used to disagree.
"""
from __future__ import annotations

import re
from datetime import datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.cases.enums import Klass
from portal.cases.models import Case
from portal.cases.queries import CaseFilters, list_cases
from portal.clock import SHANGHAI
from portal.extensions import db
from tests.conftest import category, make_case, make_case_at, to_investigating, unit, user

ROW_NUMBER = re.compile(r'<td class="num"><a href="[^"]*">(KS\d{4}-\d{6})</a>')


def listed(client, **args) -> list[str]:
    """Case numbers on the list page (or its HTMX fragment) for these filter arguments."""
    resp = client.get("/cases/", query_string=args)
    assert resp.status_code == 200
    return ROW_NUMBER.findall(resp.get_data(as_text=True))


def received_at(local: str, **case_args):
    """A case registered at a Beijing wall-clock time, e.g. "2026-09-02 04:11"."""
    when = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
    clock.reset()
    clock.travel(when - clock.utcnow())
    try:
        return make_case(**case_args)
    finally:
        clock.reset()


# ---------------------------------------------------------------- dates (item 2)

def test_case_received_0411_beijing_time_is_listed_on_its_own_day(app, as_user):
    early = received_at("2026-09-02 04:11").number       # 2026-09-01 20:11 UTC
    late_before = received_at("2026-09-01 23:50").number  # 2026-09-01 15:50 UTC
    next_day = received_at("2026-09-03 00:05").number
    desk = as_user("desk")

    assert listed(desk, date_from="2026-09-02", date_to="2026-09-02") == [early]
    assert listed(desk, date_to="2026-09-01") == [late_before]
    assert listed(desk, date_from="2026-09-03") == [next_day]
    assert set(listed(desk, date_from="2026-09-01", date_to="2026-09-03")) == {early, late_before, next_day}
    # The row shows the time the user filtered by: Beijing time.
    html = desk.get("/cases/", query_string={"date_from": "2026-09-02", "date_to": "2026-09-02"}).get_data(as_text=True)
    assert "2026-09-02 04:11" in html


def test_a_date_that_is_not_a_date_is_ignored_not_an_error(app, as_user):
    number = make_case().number
    assert listed(as_user("desk"), date_from="2026-13-45") == [number]


# ---------------------------------------------------------------- phone search (item 3)

def test_phone_search_by_last_digits_whole_number_and_landline_with_dash(app, as_user):
    mobile = make_case(customer_phone="+86 139-1234-5678", customer_name="王秀英").number
    landline = make_case(customer_phone="0371-55551234", customer_name="李娜").number
    other = make_case(customer_phone="13800000000", customer_name="赵敏").number
    desk = as_user("desk")

    assert listed(desk, q="5678") == [mobile]
    assert listed(desk, q="13912345678") == [mobile]
    assert listed(desk, q="139 1234 5678") == [mobile]
    assert listed(desk, q="+8613912345678") == [mobile]
    assert listed(desk, q="0371-55551234") == [landline]
    assert listed(desk, q="037155551234") == [landline]
    assert listed(desk, q="55551234") == [landline]
    assert listed(desk, q="1234") == [landline]  # 5678 ends the mobile, 1234 the landline
    assert listed(desk, q="0000") == [other]
    assert listed(desk, q="9999") == []


def test_last_four_digits_find_the_phone_not_the_case_number(app, as_user):
    first = make_case(customer_phone="13912345678")  # KS<year>-000001
    caller = make_case(customer_phone="13700000001")  # its phone ends in 0001
    assert first.number.endswith("000001")
    assert listed(as_user("desk"), q="0001") == [caller.number]


def test_repeat_complaints_match_the_phone_however_it_was_typed(app, as_user):
    first = make_case(customer_phone="0371-55551234", customer_name="李娜")
    again = make_case(customer_phone="0371 5555 1234", customer_name="李娜")
    html = as_user("desk").get(f"/cases/{again.number}").get_data(as_text=True)
    assert first.number in html


def test_phone_digits_are_stored_at_intake(app):
    case = make_case(customer_phone="０３７１－５５５５１２３４")  # full-width, from a phone keyboard
    assert case.customer_phone_digits == "037155551234"
    assert case.customer_phone_rev == "432155551730"


def test_migration_fills_the_digits_of_cases_registered_before_it(app, as_user):
    from flask_migrate import downgrade, upgrade
    from tests.conftest import ROOT
    phones = {"0371-55551234": "037155551234", "+86 139 1234 5678": "13912345678",
              "0086 13700000001": "13700000001", "(028) 8765-4321": "02887654321"}
    numbers = {make_case(customer_phone=p).number: d for p, d in phones.items()}
    db.session.remove()  # the schema change waits for open transactions
    migrations = str(ROOT / "portal" / "migrations")
    downgrade(directory=migrations, revision="c3d5e7f9a1b2")  # before the digits existed
    upgrade(directory=migrations)
    rows = db.session.execute(sa.select(Case.number, Case.customer_phone_digits, Case.customer_phone_rev)).all()
    assert {r.number: r.customer_phone_digits for r in rows} == numbers
    assert all(r.customer_phone_rev == r.customer_phone_digits[::-1] for r in rows)
    landline = next(n for n, d in numbers.items() if d == "037155551234")
    assert listed(as_user("desk"), q="5555-1234") == [landline]


def _plan(sql_query) -> str:
    compiled = sql_query.compile(db.engine, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(sa.text('ANALYZE "case"'))
            # A handful of rows in a test: make the planner say whether the index *can* serve it.
            conn.execute(sa.text("SET enable_seqscan = off"))
            rows = conn.execute(sa.text(f"EXPLAIN {compiled}")).all()
            conn.execute(sa.text("RESET enable_seqscan"))
        else:
            conn.execute(sa.text("ANALYZE"))  # with statistics, as a database in use has them
            rows = conn.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        conn.rollback()
    return "\n".join(" ".join(str(c) for c in r) for r in rows)


def test_phone_suffix_search_goes_through_the_reversed_digits_index(app):
    make_case(customer_phone="0371-55551234")
    from portal.cases.queries import _LIST_SELECT, SORTS, search_clause
    # The list's own statement, newest first with its LIMIT: on SQLite an OR of the two
    # look-ups let the planner walk the received-time index over every case instead.
    for q in ("1234", "0371-55551234"):
        plan = _plan(_LIST_SELECT.where(search_clause(q)).order_by(*SORTS["-received"]).limit(51))
        assert "ix_case_phone_rev" in plan, plan


# ---------------------------------------------------------------- the other filters (item 27)

def test_state_class_and_category_filters(app, as_user):
    new = make_case().number
    major = make_case_at("proposed")  # a major foreign-object complaint at 生产一部
    general = to_investigating(make_case(), klass=Klass.GENERAL, cat="quality.taste")
    desk = as_user("desk")

    assert listed(desk, state="new") == [new]
    assert set(listed(desk, state="open")) == {new, major.number, general.number}
    assert listed(desk, state=major.state.value) == [major.number]
    assert listed(desk, klass="major") == [major.number]
    assert listed(desk, klass="general") == [general.number]
    # A top-level cause takes in its sub-causes.
    assert set(listed(desk, category=str(category("quality").id))) == {major.number, general.number}
    assert listed(desk, category=str(category("quality.taste").id)) == [general.number]
    assert listed(desk, state="closed") == []
    # Values nobody can choose are ignored rather than failing.
    assert len(listed(desk, state="bogus", klass="nonsense", category="x")) == 3


def test_branch_batch_and_free_text_filters(app, as_user):
    chengdu = make_case("rep_cd", customer_name="王秀英", product_name="三鲜水饺", batch_no="2026090110100").number
    zhengzhou = make_case("rep_zz", customer_name="周梅", product_name="黑芝麻汤圆", batch_no="2026081520200").number
    desk = as_user("desk")

    assert listed(desk, branch=str(unit("BR-CD").id)) == [chengdu]
    assert listed(desk, branch=str(unit("BR-ZZ").id)) == [zhengzhou]
    assert listed(desk, batch="2026 0815 20200") == [zhengzhou]  # typed with spaces
    assert listed(desk, q="2026090110100") == [chengdu]  # a batch number in the search box
    assert listed(desk, q="周梅") == [zhengzhou]
    assert listed(desk, q="芝麻") == [zhengzhou]
    assert listed(desk, q=chengdu) == [chengdu]
    assert listed(desk, q=chengdu.lower()) == [chengdu]
    year, seq = chengdu[2:6], int(chengdu[-6:])
    assert listed(desk, q=f"KS{year}-{seq}") == [chengdu]  # without the leading zeros
    assert set(listed(desk, q="水饺", branch=str(unit("BR-CD").id))) == {chengdu}


def test_filters_narrow_only_within_what_the_user_may_see(app, as_user):
    make_case("rep_zz", customer_phone="0371-55551234")
    rep = as_user("rep_cd")
    assert listed(rep, q="1234") == []
    assert listed(rep, branch=str(unit("BR-ZZ").id)) == []


def test_paging_walks_every_row_once_and_the_htmx_fragment_matches(app, as_user, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    numbers = [make_case().number for _ in range(5)]
    desk = as_user("desk")
    seen = []
    for page in (1, 2, 3):
        html = desk.get("/cases/", query_string={"page": page}).get_data(as_text=True)
        rows = ROW_NUMBER.findall(html)
        seen += rows
        assert ("下一页" in html) == (page < 3)
        assert ("上一页" in html) == (page > 1)
        fragment = desk.get("/cases/", query_string={"page": page}, headers={"HX-Request": "true"})
        assert ROW_NUMBER.findall(fragment.get_data(as_text=True)) == rows
        assert "<html" not in fragment.get_data(as_text=True)
    assert seen == list(reversed(numbers))  # newest first, none twice, none missed
    assert listed(desk, page=4) == []
    assert listed(desk, page="x") == seen[:2]


def test_sort_orders(app, as_user):
    a = received_at("2026-09-01 09:00").number
    b = received_at("2026-09-02 09:00").number
    desk = as_user("desk")
    assert listed(desk) == [b, a]
    assert listed(desk, sort="received") == [a, b]
    assert listed(desk, sort="-number") == [b, a]


# ---------------------------------------------------------------- branch choices (item 10)

def branch_options(html: str) -> list[str]:
    m = re.search(r'<select id="branch" name="branch">(.*?)</select>', html, re.S)
    return re.findall(r"<option[^>]*>([^<]+)</option>", m.group(1)) if m else []


def test_rep_is_offered_only_their_own_branch_so_no_branch_filter(app, as_user):
    html = as_user("rep_cd").get("/cases/").get_data(as_text=True)
    assert branch_options(html) == []
    assert "郑州分公司" not in html and "北京分公司" not in html
    desk_html = as_user("desk").get("/cases/").get_data(as_text=True)
    assert {"成都分公司", "郑州分公司", "北京分公司"} <= set(branch_options(desk_html))


def test_branch_choices_are_per_user_although_cached(app, as_user):
    # The options are cached per language; a rep's view must not become the desk's, or back.
    as_user("rep_cd").get("/cases/")
    assert "郑州分公司" in branch_options(as_user("desk").get("/cases/").get_data(as_text=True))
    assert branch_options(as_user("rep_zz").get("/cases/").get_data(as_text=True)) == []


def test_list_cases_returns_plain_rows_for_a_filter_object(app):
    number = make_case(customer_phone="0371-55551234").number
    rows, has_next = list_cases(user("desk"), CaseFilters(q="1234"))
    assert [r.number for r in rows] == [number] and has_next is False
