"""The step panels of the sheet page: which form each step uses, its operation, its context."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from flask import current_app, request, url_for
from flask_login import current_user

from forms import capa as f
from portal.capa import access, operations
from portal.capa.models import CorrectiveAction
from portal.capa.states import MAX_WHYS, SheetState
from portal.cases import access as case_access
from portal.cases import evidence
from portal.clock import local, utcnow
from portal.errors import ValidationError
from portal.extensions import db
from portal.labels import N_
from portal.signing.models import AuditEvent, Signature

OBJECT_TYPE = operations.OBJECT_TYPE


def _files(form) -> list:
    kept, error = evidence.collect(request.files.getlist(form.photos.name),
                                   request.form.getlist("upload_token"), current_user.id)
    if error:
        raise ValidationError(error, {"photos": error})
    return kept


@dataclass
class Step:
    form_class: type
    run: Callable
    label: str
    panel: str


STEPS: dict[str, Step] = {
    "respond": Step(f.RespondForm, lambda s, u, fm: operations.respond(
        s, u, fm.version.data, files=_files(fm), **fm.arguments()), N_("回复"), "respond"),
    "approve": Step(f.DecisionForm, lambda s, u, fm: operations.approve(
        s, u, fm.version.data, **fm.arguments()), N_("批准"), "approve"),
    # The decision panel offers approve and send back together; send back posts the same form.
    "send_back": Step(f.DecisionForm, lambda s, u, fm: operations.send_back(
        s, u, fm.version.data, **fm.arguments()), N_("退回"), "approve"),
    "verify": Step(f.VerifyForm, lambda s, u, fm: operations.verify(
        s, u, fm.version.data, files=_files(fm), **fm.arguments()), N_("验证"), "verify"),
}
PANEL_OF_STATE = {SheetState.ISSUED: "respond", SheetState.RETURNED: "respond",
                  SheetState.RESPONDED: "approve", SheetState.APPROVED: "verify"}

ACTION_LABELS = {
    "ca_issued": N_("品保签发"), "ca_responded": N_("部门回复"), "ca_approved": N_("部门领导批准"),
    "ca_sent_back": N_("部门领导退回修改"), "ca_verified": N_("品保验证有效，关闭"),
    "ca_not_effective": N_("品保验证无效，退回整改"),
}


def event_label(event) -> str:
    """The timeline's words for a sheet's event (a msgid)."""
    return ACTION_LABELS.get(event.action, event.action)


def owner_choices(sheet: CorrectiveAction) -> list[tuple[str, str]]:
    from flask_babel import gettext as _
    from portal.org.models import User
    people = db.session.execute(sa.select(User).where(
        User.unit_id == sheet.receiving_unit_id, User.active.is_(True)).order_by(User.name)).scalars()
    return [("", _("请选择"))] + [(str(u.id), u.name) for u in people]


def prepare_form(action: str, form, sheet: CorrectiveAction) -> None:
    if action == "respond":
        form.owner_id.choices = owner_choices(sheet)


def _prefill(action: str, form, sheet: CorrectiveAction) -> None:
    """A sheet sent back is revised, not typed again: its last answer fills the form."""
    if action == "respond":
        form.owner_id.data = str(sheet.owner_id or current_user.id)
        if sheet.responded_at is None:
            return
        form.investigation.data, form.correction.data = sheet.investigation, sheet.correction
        form.prevention.data, form.due_date.data = sheet.prevention, sheet.due_date
        for i, why in enumerate((sheet.whys or [])[:MAX_WHYS], start=1):
            form[f"why_{i}"].data = why
        form.team.data = "\n".join(f"{m['name']} {m.get('role') or ''}".strip() for m in sheet.team or [])
        form.root_cause_occurrence.data = sheet.root_cause_occurrence
        form.root_cause_escape.data = sheet.root_cause_escape
        for (loc, qty, act), row in zip(form.containment_rows(), sheet.containment or []):
            loc.data, qty.data, act.data = row.get("location"), row.get("suspect_qty"), row.get("action")
    elif action == "verify":
        form.verified_on.data = local(utcnow()).date()


def panel_form(sheet: CorrectiveAction):
    """The panel the sheet's state offers the current user (None: nothing for them to do)."""
    action = PANEL_OF_STATE.get(sheet.state)
    if action is None or not access.may_act(sheet, current_user):
        return None, None
    form = STEPS[action].form_class(prefix=action, formdata=None)
    form.version.data = sheet.version
    prepare_form(action, form, sheet)
    _prefill(action, form, sheet)
    return action, form


def sheet_events(sheet_id: int):
    return db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.object_type == OBJECT_TYPE, AuditEvent.object_id == sheet_id)
        .order_by(AuditEvent.seq)).scalars().all()


def sheet_signatures(sheet_id: int):
    return db.session.execute(sa.select(Signature).where(
        Signature.object_type == OBJECT_TYPE, Signature.object_id == sheet_id)
        .order_by(Signature.signed_at, Signature.id)).scalars().all()


def pdf_url(sheet: CorrectiveAction) -> str | None:
    """The PDF's address, once the PDF blueprint (portal/capa/pdf_routes.py) is there."""
    if "capa_pdf.download" not in current_app.view_functions:
        return None
    return url_for("capa_pdf.download", number=sheet.number)


def detail_context(sheet: CorrectiveAction, failed_action: str | None = None, failed_form=None,
                   message: str | None = None) -> dict:
    action, form = panel_form(sheet)
    if failed_action and failed_form is not None:
        failed_form.version.data = sheet.version
        action, form = STEPS[failed_action].panel, failed_form
    viewer = current_user
    return {"sheet": sheet, "action": action, "form": form, "message": message,
            "failed": failed_action is not None and failed_form is not None,
            "events": sheet_events(sheet.id), "event_label": event_label,
            "signatures": sheet_signatures(sheet.id), "pdf_url": pdf_url(sheet),
            "cases": [(c, case_access.can_view(c, viewer)) for c in sheet.cases],
            "holders": access.holders(sheet), "SheetState": SheetState}
