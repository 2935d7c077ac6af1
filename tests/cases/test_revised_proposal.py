"""After 驳回 or a customer not satisfied, the handler's proposal form starts from the last
proposal, not empty (issue 10)."""
import re

from portal.cases import operations as ops
from tests.conftest import PASSWORD, make_case_at, user


def propose_panel(client, case) -> str:
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    return html.split('id="panel-propose"', 1)[1].split("</section>", 1)[0]


def assert_last_proposal_filled_in(panel: str):
    assert "当日包装工序记录缺失</textarea>" in panel
    assert "包装工人未戴发帽</textarea>" in panel
    assert "赔偿同款产品十袋</textarea>" in panel
    assert 'value="生产一部包装车间"' in panel
    assert re.search(r'<input[^>]*name="propose-product_qty"[^>]*value="10"', panel)
    assert '<option selected value="department">' in panel
    assert '<option selected value="product">' in panel
    assert "已填入上次的方案" in panel


def test_after_reject_the_form_holds_the_last_proposal(app, as_user):
    case = make_case_at("proposed")
    ops.reject_proposal(case, user("leader_prod1"), case.version, password=PASSWORD, comment="补偿过高")
    assert_last_proposal_filled_in(propose_panel(as_user("handler_prod1"), case))


def test_after_an_unsatisfied_customer_the_form_holds_the_last_proposal(app, as_user):
    case = make_case_at("implemented")
    ops.record_callback(case, user("desk"), case.version, reached=True, satisfied=False, scores={},
                        comment="顾客认为赔偿太少")
    assert_last_proposal_filled_in(propose_panel(as_user("handler_prod1"), case))


def test_first_proposal_starts_empty(app, as_user):
    panel = propose_panel(as_user("handler_prod1"), make_case_at("acknowledged"))
    assert "已填入上次的方案" not in panel and "赔偿同款产品十袋" not in panel
