"""Chinese search on the case list through the bigram index (issue 13 item 6).

Runs on PostgreSQL and on SQLite (`TEST_DB=sqlite`)."""
from __future__ import annotations

import sqlalchemy as sa

from portal.cases import operations as ops
from portal.extensions import db
from portal.search.models import CaseTerm
from tests.cases.test_list_filters import listed
from tests.conftest import make_case, user


def test_a_two_character_word_of_the_name_product_or_description_finds_the_case(app, as_user):
    dumpling = make_case(customer_name="王秀英", product_name="三鲜水饺", description="水饺中吃出一根头发").number
    glutinous = make_case(customer_name="李娜", product_name="黑芝麻汤圆", description="汤圆破皮漏馅").number
    desk = as_user("desk")

    assert listed(desk, q="秀英") == [dumpling]    # name
    assert listed(desk, q="水饺") == [dumpling]    # product (and description)
    assert listed(desk, q="头发") == [dumpling]    # description only
    assert listed(desk, q="漏馅") == [glutinous]
    assert listed(desk, q="芝麻汤圆") == [glutinous]
    assert listed(desk, q="月饼") == []
    # Both words must be there.
    assert listed(desk, q="水饺 漏馅") == []
    assert listed(desk, q="汤圆 李娜") == [glutinous]


def test_longer_words_must_appear_as_typed_and_one_character_finds_a_surname(app, as_user):
    case = make_case(customer_name="王秀英", product_name="三鲜水饺", description="饺子皮发硬").number
    other = make_case(customer_name="李王", product_name="汤圆", description="王字牌汤圆").number
    desk = as_user("desk")

    assert listed(desk, q="饺子皮") == [case]
    assert listed(desk, q="水饺子") == []  # 水饺 and 饺子 are both there, but not 水饺子
    assert listed(desk, q="王") == [case]  # the surname, not every 王 in a text
    assert set(listed(desk, q="汤圆")) == {other}
    assert listed(desk, q="！？") == []


def test_latin_words_and_numbers_ignore_case_and_full_width(app, as_user):
    case = make_case(product_name="XL装速冻水饺", description="外箱印着 Lot A7 字样").number
    desk = as_user("desk")
    assert listed(desk, q="xl") == [case]
    assert listed(desk, q="ＸＬ") == [case]
    assert listed(desk, q="a7") == [case]
    assert listed(desk, q="lot 水饺") == [case]
    assert listed(desk, q="2026090110100") == [case]  # a batch number still finds its cases


def test_an_edited_description_is_found_by_its_new_words_only(app, as_user):
    case = ops.request_info(make_case(description="水饺中吃出一根头发"), user("desk"), 1,
                            question="请补拍包装上的批号")
    case.description = "汤圆里有塑料片"  # an edit through the ORM, as a correction would make
    db.session.commit()
    desk = as_user("desk")
    assert listed(desk, q="塑料") == [case.number]
    assert listed(desk, q="头发") == []


def test_search_reindex_rebuilds_an_index_lost_by_a_bulk_load(app, runner, as_user):
    case = make_case(description="水饺中吃出一根头发")
    db.session.execute(sa.delete(CaseTerm))
    db.session.commit()
    desk = as_user("desk")
    assert listed(desk, q="头发") == []

    result = runner.invoke(args=["search-reindex"])
    assert result.exit_code == 0, result.output
    assert "1 件" in result.output
    assert listed(desk, q="头发") == [case.number]
    assert listed(desk, q="秀英") == [case.number]


def test_search_stays_within_what_the_user_may_see(app, as_user):
    make_case(username="rep_cd", description="水饺中吃出一根头发")
    assert listed(as_user("rep_zz"), q="头发") == []
