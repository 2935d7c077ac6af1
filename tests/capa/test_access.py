"""Who sees a sheet and who may act on it: scoping in the queries, the step's place in the check."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.capa import access, queries
from portal.capa import operations as ops
from portal.capa.models import CorrectiveAction
from portal.capa.states import SheetState
from portal.cases import operations as case_ops
from portal.cases.enums import Kind, Klass, Validity
from portal.errors import Conflict
from portal.extensions import db
from tests.capa.conftest import issue, post, respond_form
from tests.conftest import PASSWORD, category, make_case, make_sheet_at, signed_in, unit, user


def test_rep_of_another_branch_gets_404_for_the_sheet(app):
    sheet = make_sheet_at("issued")  # on a case of rep_cd (成都分公司)
    for username, status in (("rep_zz", 404), ("rep_cd", 200), ("handler_prod2", 404),
                             ("handler_prod1", 200), ("leader_prod1", 200), ("desk", 200), ("ceo", 200)):
        client, _t = signed_in(app, username)
        assert client.get(f"/ca/{sheet.number}").status_code == status, username
        assert client.get(f"/ca/{sheet.number}/files/1/thumb").status_code == 404, username
    zz, _t = signed_in(app, "rep_zz")
    assert sheet.number not in zz.get("/ca/").get_data(as_text=True)
    assert queries.sheets_for_batch(sheet.batch_no, user("rep_zz")) == []
    assert [s.number for s in queries.sheets_for_batch(sheet.batch_no, user("quality"))] == [sheet.number]


def test_handler_of_another_department_cannot_respond(app):
    # 生产二部 handles the case, so its handler sees the sheet; the sheet went to 生产一部.
    case = make_case()
    case_ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                         klass=Klass.GENERAL, category_id=category("quality.taste").id)
    case_ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD2").id)
    sheet = issue([case.number])
    client, token = signed_in(app, "handler_prod2")
    page = client.get(f"/ca/{sheet.number}").get_data(as_text=True)
    assert 'id="panel-respond"' not in page
    resp = post(client, token, sheet.number, "respond", sheet.version, **respond_form())
    assert resp.status_code == 403
    db.session.expire_all()
    fresh = db.session.get(CorrectiveAction, sheet.id)
    assert fresh.state == SheetState.ISSUED and fresh.responded_at is None and fresh.version == sheet.version


def test_only_the_leader_of_the_receiving_department_approves(app):
    sheet = make_sheet_at("responded")
    for username in ("leader_prod2", "handler_prod1", "quality"):
        client, token = signed_in(app, username)
        resp = post(client, token, sheet.number, "approve", sheet.version, password=PASSWORD)
        assert resp.status_code in (403, 404), username
    db.session.expire_all()
    assert db.session.get(CorrectiveAction, sheet.id).state == SheetState.RESPONDED


def test_who_is_told_is_who_may_act_is_whose_list_shows_it(app):
    """One definition (access.WAITS): the holders, the permission and the 待我处理 filter agree."""
    from portal.org.models import User
    everybody = db.session.execute(sa.select(User)).unique().scalars().all()
    for stage in ("issued", "responded", "approved"):
        sheet = make_sheet_at(stage)
        told = {u.username for u in access.holders(sheet)}
        may = {u.username for u in everybody if access.may_act(sheet, u)}
        listed = {u.username for u in everybody if db.session.execute(
            sa.select(CorrectiveAction.id).where(CorrectiveAction.id == sheet.id,
                                                 access.waiting_clause(u))).first()}
        assert told == may == listed, stage
        assert told, stage


def test_a_leader_who_is_also_quality_cannot_send_back_at_verification(app):
    """王军 leads 品保部 and is quality: at verification he verifies, he does not "send back"."""
    sheet = make_sheet_at("approved")
    with pytest.raises(Conflict, match="不能退回"):
        ops.send_back(sheet, user("leader_qa"), sheet.version, password=PASSWORD, comment="再看看")
    db.session.rollback()
    assert db.session.get(CorrectiveAction, sheet.id).state == SheetState.APPROVED
