"""Small page fragments of the case page."""
from tests.conftest import make_case, unit, user


def test_dispatch_picker_lists_handlers_of_the_chosen_department(app, as_user):
    case = make_case()
    desk = as_user("desk")
    html = desk.get(f"/cases/{case.number}/dispatch-people",
                    query_string={"dispatch-unit_id": unit("PROD1").id}).get_data(as_text=True)
    assert 'id="dispatch-people"' in html and "赵磊" in html and "钱进" not in html
    assert as_user("rep_cd").get(f"/cases/{case.number}/dispatch-people").status_code == 403


# ---------------------------------------------------------------- counts follow scope (item 10)

BATCH = "2026090110100"


def test_same_batch_count_counts_only_cases_the_reader_may_see(app, as_user):
    for _ in range(3):
        make_case("rep_cd", batch_no=BATCH)  # 成都's complaints on the batch
    own = make_case("rep_zz", batch_no=BATCH)  # 郑州's one
    # 郑州's rep sees no other case on the batch, so the heading says none.
    html = as_user("rep_zz").get(f"/cases/{own.number}").get_data(as_text=True)
    assert "同批号投诉（0）" in html and "同批号投诉（3）" not in html
    # The desk sees all of them.
    assert "同批号投诉（3）" in as_user("desk").get(f"/cases/{own.number}").get_data(as_text=True)


def test_batch_lookup_at_intake_counts_only_visible_cases(app, as_user):
    for _ in range(3):
        make_case("rep_cd", batch_no=BATCH)
    lookup = {"batch_no": BATCH}
    assert "该批号暂无其他投诉" in as_user("rep_zz").get("/batches/lookup", query_string=lookup).get_data(as_text=True)
    assert "该批号已有 3 起投诉" in as_user("rep_cd").get("/batches/lookup", query_string=lookup).get_data(as_text=True)
    assert "该批号已有 3 起投诉" in as_user("quality").get("/batches/lookup", query_string=lookup).get_data(as_text=True)



def test_the_page_lists_the_batch_s_other_cases_and_the_customer_s_earlier_ones(app, as_user):
    """Both asides of the case page: other cases on the batch (with the customer's name) and
    earlier complaints from the same phone, dash or not (with the product), newest first,
    each as far as the reader may see it."""
    first = make_case("rep_cd", customer_phone="0371-55551234", product_name="猪肉水饺", batch_no="B1")
    second = make_case("rep_zz", customer_phone="037155551234", product_name="韭菜水饺", batch_no="B2")
    other = make_case("rep_cd", customer_name="李娜", customer_phone="13800001111", batch_no="B2")
    now = make_case("rep_cd", customer_phone="0371 5555 1234", product_name="三鲜水饺", batch_no="B2")
    later = make_case("rep_cd", customer_phone="037155551234", product_name="汤圆", batch_no="B9")

    def aside(who, case, heading):
        html = as_user(who).get(f"/cases/{case.number}").get_data(as_text=True)
        part = html.split(heading, 1)[1].split("</section>", 1)[0] if heading in html else ""
        return [line for line in part.split("<li>")[1:]]

    earlier = aside("desk", now, "该顾客以往投诉")
    assert [second.number in e and "韭菜水饺" in e for e in earlier] == [True, False]
    assert first.number in earlier[1] and "猪肉水饺" in earlier[1]
    assert not any(later.number in e for e in earlier)  # not earlier than this one
    on_batch = aside("desk", now, "同批号投诉（2）")
    assert [other.number in b and "李娜" in b for b in on_batch] == [True, False]
    assert second.number in on_batch[1]
    # 成都's rep sees 成都's cases only: 郑州's earlier complaint and batch case are not listed.
    earlier = aside("rep_cd", now, "该顾客以往投诉")
    assert len(earlier) == 1 and first.number in earlier[0]
    assert len(aside("rep_cd", now, "同批号投诉（1）")) == 1


# ---------------------------------------------------------------- what the page asks the database

def _selects_from(app, client, path: str) -> list[str]:
    """The table of each SELECT's first column in one request ("SELECT signature.id, …")."""
    import re
    import sqlalchemy as sa
    from portal.extensions import db
    seen: list[str] = []

    def note(conn, cursor, statement, params, context, executemany):
        m = re.match(r'\s*SELECT\s+"?(\w+)"?\.', statement)
        if m:
            seen.append(m.group(1))
    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert client.get(path).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    return seen


def test_a_new_case_page_does_not_look_up_what_the_case_has_none_of(app, as_user):
    """Signatures, pauses, clusters, corrective-action sheets and files are asked for once,
    together; a case with none of them costs no look-up for each."""
    case = make_case()
    read = _selects_from(app, as_user("desk"), f"/cases/{case.number}")
    for table in ("signature", "case_pause", "batch_cluster", "corrective_action", "attachment"):
        assert table not in read, read


def test_the_case_row_brings_its_batch_and_customer_link(app, as_user):
    """The registered batch (with its production department) and the customer's link in force
    come with the case itself: the page shows both without a look-up of its own for either."""
    from portal.batches.lookup import find_batch
    from portal.customer import links
    case = make_case(batch_no=BATCH)
    batch, link = find_batch(BATCH), links.current_link(case.id)
    assert batch is not None and batch.production_unit is not None and link is not None
    desk = as_user("desk")
    read = _selects_from(app, desk, f"/cases/{case.number}")
    assert "batch" not in read and "case_link" not in read, read
    html = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert batch.production_unit.name in html.split("生产部门", 1)[1].split("</dd>", 1)[0]
    assert links.path_of(link.token) in html
    # A link made anew replaces the old one on the page.
    from portal.customer.operations import regenerate_link
    fresh = regenerate_link(case, user("desk"))
    html = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert links.path_of(fresh.token) in html and links.path_of(link.token) not in html
