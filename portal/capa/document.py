"""The corrective-action sheet as a PDF (pdf_templates/ca_sheet), cached by its content hash.

Marked 草稿 until all three signatures are in (签发, 批准, 验证) and the sheet is closed; a
closed sheet is frozen, so its file is rendered once. Like the sheet's page, it names the
cases it answers and no customer: a department correcting its production needs the
complaint, not who made it. A case's details print only for a reader who may open that case
(portal.cases.access), its number for everyone; each such view is its own file.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from portal.i18n import force_locale
from werkzeug.exceptions import NotFound

from portal.capa.access import visible_sheet_or_404
from portal.capa.models import CorrectiveAction
from portal.capa.operations import OBJECT_TYPE
from portal.capa.states import Layout, SheetState
from portal.cases import access as case_access
from portal.cases import evidence
from portal.clock import fmt
from portal.extensions import db
from portal.jsonutil import sha256_of
from portal.pdf_cache import cached_pdf
from portal.signing import faces
from portal.signing.enums import SignatureMeaning
from portal.signing.models import Signature

# The three boxes of the form, in the order the sheet collects them.
SLOTS = ((SignatureMeaning.ISSUE, "签发（品保）"), (SignatureMeaning.APPROVE, "批准（部门领导）"),
         (SignatureMeaning.VERIFY, "验证（品保）"))
MAX_PHOTOS = 8


def sheet_by_number(number: str, viewer) -> CorrectiveAction | None:
    """The sheet if `viewer` may see it (None as viewer: the shell, which sees every sheet)."""
    if viewer is None:
        return db.session.execute(sa.select(CorrectiveAction).where(
            CorrectiveAction.number == number)).scalar_one_or_none()
    try:
        return visible_sheet_or_404(number, viewer)
    except NotFound:
        return None


def sheet_signatures(sheet: CorrectiveAction) -> list[Signature]:
    return list(db.session.execute(
        sa.select(Signature).where(Signature.object_type == OBJECT_TYPE, Signature.object_id == sheet.id)
        .order_by(Signature.signed_at, Signature.id)).scalars())


def sheet_complete(sheet: CorrectiveAction, signatures: list[Signature] | None = None) -> bool:
    """Closed, with the issuer's, the leader's and the verifier's signatures."""
    meanings = {s.meaning for s in (sheet_signatures(sheet) if signatures is None else signatures)}
    return sheet.state == SheetState.CLOSED and all(m in meanings for m, _ in SLOTS)


def _name(user) -> str:
    return user.name if user else ""


def _signature(s: Signature) -> dict:
    image, seal = faces.face_paths(s)
    return {"meaning": s.meaning.label, "printed_name": s.printed_name,
            "role": f"{s.unit_name or ''} {s.role.label}".strip(), "signed_at": fmt(s.signed_at, True),
            "content_hash": s.content_hash, "comment": s.comment or "",
            "image_path": str(image) if image else None, "seal_path": str(seal) if seal else None}


def _case_row(case, viewer) -> dict:
    """A case as the sheet's reader may see it: its number always, the rest if they may open it."""
    if viewer is not None and not case_access.can_view(case, viewer):
        return {"number": case.number, "visible": False}
    return {"number": case.number, "visible": True, "received_at": fmt(case.received_at)[:10],
            "branch": case.branch.name if case.branch else "总部",
            "quantity": "" if case.quantity is None else str(case.quantity), "description": case.description}


def sheet_context(sheet: CorrectiveAction, viewer, signatures: list[Signature]) -> dict:
    batch = sheet.batch
    latest = {s.meaning: s for s in signatures}  # in signing order: the last of each meaning
    boxed = [latest[m] for m, _ in SLOTS if m in latest]
    effective = {True: "有效", False: "无效"}.get(sheet.effective, "")
    return {
        "company_name": current_app.config["COMPANY_NAME"],
        "sheet": {
            "number": sheet.number, "eight_d": sheet.layout == Layout.EIGHT_D,
            "state": sheet.state.label, "return_count": str(sheet.return_count or 0),
            "due_at": fmt(sheet.due_at),  # when the step it waits for is due; none once closed
            "issuing_unit": sheet.issuing_unit.name, "issued_by": _name(sheet.issued_by),
            "issued_at": fmt(sheet.issued_at), "receiving_unit": sheet.receiving_unit.name,
            "product": sheet.product.display if sheet.product else (sheet.product_name or ""),
            "batch_no": sheet.batch_no or "", "production_date": sheet.production_date,
            "production_unit": batch.production_unit.name if batch and batch.production_unit else "",
            "line": batch.line if batch else "", "shift": batch.shift if batch else "",
            "shipped_regions": "、".join(batch.shipped_regions or []) if batch else "",
            "nonconformity": sheet.nonconformity, "investigation": sheet.investigation or "",
            "whys": list(sheet.whys or []), "correction": sheet.correction or "",
            "prevention": sheet.prevention or "", "owner": _name(sheet.owner),
            "due_date": sheet.due_date, "responded_by": _name(sheet.responded_by),
            "responded_at": fmt(sheet.responded_at), "effective": effective,
            "verification_evidence": sheet.verification_evidence or "",
            "verified_on": sheet.verified_on, "verified_by": _name(sheet.verified_by),
            "closed_at": fmt(sheet.closed_at), "return_reason": sheet.return_reason or "",
            "team": "、".join(f"{m.get('name')}（{m['role']}）" if m.get("role") else m.get("name", "")
                             for m in sheet.team or []),
            "containment": [{"location": r.get("location") or "", "action": r.get("action") or "",
                             "suspect_qty": "" if r.get("suspect_qty") is None else str(r["suspect_qty"])}
                            for r in sheet.containment or []],
            "root_cause_occurrence": sheet.root_cause_occurrence or "",
            "root_cause_escape": sheet.root_cause_escape or "",
            "closure_note": sheet.closure_note or "",
        },
        "cases": [_case_row(c, viewer) for c in sheet.cases],
        "photos": [{"path": str(evidence.thumb_path(a.token)), "caption": a.original_name}
                   for a in sheet.photos[:MAX_PHOTOS]
                   if evidence.ensure_renditions(a.token, a.stored_name) or evidence.thumb_path(a.token).exists()],
        "slots": [{"title": title, "signature": _signature(latest[m]) if m in latest else None}
                  for m, title in SLOTS],
        # Every signature in order when the boxes do not show them all (a return, a second round).
        "history": [_signature(s) for s in signatures] if len(signatures) > len(boxed) else [],
    }


def sheet_pdf_path(sheet: CorrectiveAction, viewer, *, drafts: bool = True) -> Path | None:
    """The cached PDF of the sheet as `viewer` may read it (None: the shell, everything);
    a sheet still missing a signature comes marked 草稿, or None without drafts."""
    signatures = sheet_signatures(sheet)
    final = sheet_complete(sheet, signatures)
    if not final and not drafts:
        return None

    def context() -> dict:
        # Chinese whatever the reader's language, as the sign-off sheet.
        with force_locale("zh_CN"):
            made = sheet_context(sheet, viewer, signatures)
        made["draft"] = not final
        return made

    # Which cases the reader may open is in the name: a reader with fewer rights is never
    # handed another view's file.
    view = sha256_of([[c.number, viewer is None or case_access.can_view(c, viewer)]
                      for c in sheet.cases])[:8]
    # A closed sheet is frozen: its signatures say what it holds, so a download finds the
    # file without building the sheet again. A draft is named by its content, which changes.
    frozen = sha256_of([[s.id, s.content_hash] for s in signatures])[:16] if final else None
    return cached_pdf("ca_sheet", context, folder="ca",
                      stem=f"{sheet.number}-{view}", key=frozen, draft=not final)


def prerender_sheet(sheet: CorrectiveAction) -> list[Path]:
    """The closed sheet as each of its people reads it, rendered by the worker right after
    verification (jobs/documents.py), so their first download is a file read; people with the
    same view of its cases share one file, rendered once."""
    signatures = sheet_signatures(sheet)
    if not sheet_complete(sheet, signatures):
        return []
    readers = {sheet.issued_by, sheet.owner, sheet.responded_by, sheet.verified_by,
               *(s.signer for s in signatures)} - {None}
    return sorted({sheet_pdf_path(sheet, reader, drafts=False) for reader in readers})
