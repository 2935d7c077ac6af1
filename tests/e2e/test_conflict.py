"""Two leaders approve the same case at once: one approval, the other told what happened (issue 3)."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import make_case, make_user, user
from tests.e2e.conftest import PASSWORD, panel, state_pill

CONFLICT = re.compile(r"(已被他人修改|刚刚被他人处理).*当前状态为「待实施」")


def case_awaiting_approval() -> str:
    """A major case proposed by the handler, so a leader must approve it (set up in the domain)."""
    from portal.cases import operations as ops
    from portal.cases.models import Category
    from portal.cases.enums import Kind, Klass, Responsibility, SettlementForm, Validity
    from portal.extensions import db
    from portal.org.models import OrgUnit
    case = make_case("rep_cd")
    cat = db.session.execute(sa.select(Category).where(Category.code == "quality.foreign_object")).scalar_one()
    prod1 = db.session.execute(sa.select(OrgUnit).where(OrgUnit.code == "PROD1")).scalar_one()
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.MAJOR, category_id=cat.id)
    ops.dispatch_case(case, user("desk"), case.version, unit_id=prod1.id)
    ops.acknowledge_case(case, user("handler_prod1"), case.version)
    ops.propose_solution(case, user("handler_prod1"), case.version, findings="当日生产记录正常",
                         root_cause="包装工序人员未戴发帽", responsibility=Responsibility.DEPARTMENT,
                         responsibility_note="生产一部", solution_form=SettlementForm.CASH,
                         solution_text="现金补偿", product_qty=None, multiple=None, cash=Decimal("300"))
    return case.number


def approval_signatures(number: str) -> int:
    from portal.cases.models import Case
    from portal.extensions import db
    from portal.signing.enums import SignatureMeaning
    from portal.signing.models import Signature
    db.session.expire_all()
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Signature).join(Case, Case.id == Signature.case_id)
        .where(Case.number == number, Signature.meaning == SignatureMeaning.APPROVE)).scalar_one()


# The same leader in two tabs, or the department's two leaders (生产一部's 副部长 added here).
@pytest.mark.parametrize("second", ["leader_prod1", "leader2_prod1"])
def test_two_leaders_approve_at_once_one_wins(app, login_as, second):
    if second == "leader2_prod1":
        from portal.org.enums import Role
        make_user("leader2_prod1", "PROD1", [Role.LEADER], name="何平")
    number = case_awaiting_approval()
    url = f"/cases/{number}"
    pages = [login_as("leader_prod1"), login_as(second)]
    buttons = []
    for page in pages:
        page.goto(url)
        expect(state_pill(page)).to_have_text("待领导批示")
        panel(page, "approve").locator("#approve-password").fill(PASSWORD)
        buttons.append(panel(page, "approve").get_by_role("button", name="批准并签名"))

    # Both click before either has an answer (the clicks do not wait for the response).
    with pages[0].expect_response(lambda r: r.url.endswith("/act/approve")) as r0, \
            pages[1].expect_response(lambda r: r.url.endswith("/act/approve")) as r1:
        buttons[0].click(no_wait_after=True)
        buttons[1].click(no_wait_after=True)
    statuses = sorted([r0.value.status, r1.value.status])
    assert statuses == [200, 409], statuses

    # Both pages now show the case as it is (待实施); exactly one says it was approved,
    # the other says, in Chinese, that someone else changed it and what it is now.
    outcomes = []
    for page in pages:
        expect(state_pill(page)).to_have_text("待实施")
        main = page.locator("#case-main")
        expect(main.locator(".flash-success, .alert").first).to_be_visible()
        outcomes.append("conflict" if main.locator(".alert", has_text=CONFLICT).count() else
                        "approved" if main.locator(".flash-success", has_text="已批准").count() else
                        main.inner_text()[:300])
    assert sorted(outcomes) == ["approved", "conflict"], outcomes
    loser = pages[outcomes.index("conflict")]
    expect(loser.locator("#case-main .alert")).to_have_text(CONFLICT)
    expect(panel(loser, "approve")).to_have_count(0)  # nothing left to approve

    assert approval_signatures(number) == 1
