"""Factories for corrective-action sheets (the capa tests' own, beside tests/conftest.py's)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.conftest import PASSWORD, make_case, unit, user

WHYS = ["馅料中混入头发", "包装工人未戴发帽", "更衣室发帽缺货", "领用未登记，无人补货", "物料清单未列发帽"]


def issue(case_numbers=(), *, batch_no=None, receiving="PROD1", layout=None, by="quality"):
    from portal.capa import operations as ops
    from portal.capa.states import Layout
    if not case_numbers and batch_no is None:
        case_numbers = [make_case().number]
    return ops.issue_sheet(user(by), PASSWORD, receiving_unit_id=unit(receiving).id,
                           nonconformity="三鲜水饺中吃出头发", case_numbers=list(case_numbers),
                           batch_no=batch_no, layout=layout or Layout.STANDARD)


def respond(sheet, by="handler_prod1", whys=WHYS[:3], **eight_d):
    from portal.capa import operations as ops
    from portal.clock import local, utcnow
    return ops.respond(sheet, user(by), sheet.version, investigation="9 月 1 日包装二线记录齐全",
                       whys=list(whys), correction="隔离同批库存，复检", prevention="发帽纳入物料清单，每班点检",
                       owner_id=user(by).id, due_date=local(utcnow()).date() + timedelta(days=7),
                       eight_d=eight_d or None)


def approve(sheet, by="leader_prod1"):
    from portal.capa import operations as ops
    return ops.approve(sheet, user(by), sheet.version, password=PASSWORD, comment="同意")


# ---------------------------------------------------------------- through the pages

def post(client, token, number, action, version, **fields):
    """POST one step's form as the browser does without htmx (field names without prefix)."""
    prefix = "approve" if action == "send_back" else action
    data = {"csrf_token": token, f"{prefix}-version": str(version)}
    data.update({f"{prefix}-{k}": v for k, v in fields.items()})
    return client.post(f"/ca/{number}/act/{action}", data=data)


def fresh(number):
    from portal.capa.models import CorrectiveAction
    from portal.extensions import db
    db.session.expire_all()
    return db.session.execute(sa.select(CorrectiveAction).where(CorrectiveAction.number == number)).scalar_one()


def told(username: str, number: str) -> list[str]:
    """The subjects of the messages in the user's bell that name the sheet."""
    from portal.extensions import db
    from portal.notify.models import OutboxMessage
    return list(db.session.execute(sa.select(OutboxMessage.subject).where(
        OutboxMessage.recipient_id == user(username).id, OutboxMessage.channel == "inapp",
        OutboxMessage.subject.contains(number))).scalars())


def respond_form(**over):
    """The respond panel's fields, filled as 生产一部's handler would."""
    from portal.clock import local, utcnow
    form = {"investigation": "9 月 1 日包装二线当班记录齐全，发帽领用无登记",
            "why_1": WHYS[0], "why_2": WHYS[1], "why_3": WHYS[2],
            "correction": "隔离同批库存并复检", "prevention": "发帽纳入物料清单，每班点检",
            "owner_id": str(user("handler_prod1").id), "due_date": (local(utcnow()).date() + timedelta(days=7)).isoformat()}
    form.update(over)
    return form
