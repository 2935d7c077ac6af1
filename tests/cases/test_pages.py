"""Small page fragments of the case page."""
from tests.conftest import make_case, unit


def test_dispatch_picker_lists_handlers_of_the_chosen_department(app, as_user):
    case = make_case()
    desk = as_user("desk")
    html = desk.get(f"/cases/{case.number}/dispatch-people",
                    query_string={"dispatch-unit_id": unit("PROD1").id}).get_data(as_text=True)
    assert 'id="dispatch-people"' in html and "赵磊" in html and "钱进" not in html
    assert as_user("rep_cd").get(f"/cases/{case.number}/dispatch-people").status_code == 403
