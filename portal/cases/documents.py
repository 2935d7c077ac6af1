"""The signed sign-off sheet (处理单/签字单) of a closed case, cached by its content hash.

The sheet carries the customer's phone as the reader may see it on the case page: in full,
or masked (access.sees_full_phone). Each variant is its own cached file.
"""
from __future__ import annotations

from pathlib import Path

from flask import current_app
from portal.i18n import force_locale

from portal.cases import evidence
from portal.cases.enums import SATISFACTION_DIMENSIONS
from portal.cases.models import Case, mask_phone
from portal.cases.states import State
from portal.cases.timeline import case_events, case_signatures, event_label
from portal.clock import fmt
from portal.pdf_cache import cached_pdf
from portal.signing import faces
from portal.signing.enums import SignatureMeaning


def _d(value) -> str:
    return value.isoformat() if value else ""


def signoff_context(case: Case, *, full_phone: bool) -> dict:
    sigs = case_signatures(case.id)
    scores = " · ".join(f"{name} {getattr(case, field)}" for field, name in SATISFACTION_DIMENSIONS
                        if getattr(case, field))
    signatures = []
    for s in sigs:
        image, seal = faces.face_paths(s)
        signatures.append({"meaning": s.meaning.label, "printed_name": s.printed_name,
                           "role": f"{s.unit_name or ''} {s.role.label}".strip(),
                           "signed_at": fmt(s.signed_at, True), "content_hash": s.content_hash,
                           "comment": s.comment, "image_path": str(image) if image else None,
                           "seal_path": str(seal) if seal else None})
    return {
        "company_name": current_app.config["COMPANY_NAME"],
        "case": {
            "number": case.number, "received_at": fmt(case.received_at), "channel": case.channel.label,
            "kind": case.kind.label if case.kind else "", "klass": case.klass.label if case.klass else "",
            "category": case.category.full_name if case.category else "",
            "validity": case.validity.label, "registered_by": case.registered_by.name,
            "branch": case.branch.name if case.branch else "总部",
            "customer_name": case.customer_name, "customer_phone": case.customer_phone if full_phone else mask_phone(case.customer_phone),
            "customer_address": case.customer_address, "region": case.region,
            "customer_type": case.customer_type.label, "product_name": case.product_name,
            "product_spec": case.product_spec, "batch_no": case.batch_no,
            "production_date": _d(case.production_date), "quantity": case.quantity,
            "purchase_place": case.purchase_place, "purchase_date": _d(case.purchase_date),
            "description": case.description, "demand": case.demand,
            "responsible_unit": case.responsible_unit.name if case.responsible_unit else "",
            "responsible_person": case.responsible_user.name if case.responsible_user else "",
            "findings": case.findings, "root_cause": case.root_cause,
            "responsibility": " ".join(filter(None, [case.responsibility.label if case.responsibility else "",
                                                     case.responsibility_note or ""])),
            "solution_form": case.solution_form.label if case.solution_form else "",
            "compensation": "；".join(filter(None, [case.solution_text, case.compensation_summary])),
            "implementation": case.implementation_text,
            "callback_result": "满意" if case.callback_satisfied else ("不满意" if case.callback_satisfied is False else ""),
            "satisfaction": scores, "callback_comment": case.callback_comment,
            "closed_at": fmt(case.closed_at), "callback_rejections": str(case.callback_rejections),
            "ladder_level": str(case.ladder_level),
        },
        "photos": [{"path": str(evidence.thumb_path(a.token)), "caption": a.original_name}
                   for a in case.photos[:8]
                   if evidence.ensure_renditions(a.token, a.stored_name) or evidence.thumb_path(a.token).exists()],
        "timeline": [{"at": fmt(e.at), "actor": e.actor_name or "系统",
                      "action": event_label(e), "note": e.note or ""}
                     for e in case_events(case.id)],
        "signatures": signatures,
    }


def signoff_complete(case: Case) -> bool:
    """Every signature of the sheet is in: the case is closed and its leader signed it off."""
    return case.state == State.CLOSED and any(
        s.meaning == SignatureMeaning.SIGN_OFF for s in case_signatures(case.id))


def signoff_pdf_path(case: Case, *, full_phone: bool, drafts: bool = False) -> Path | None:
    """The cached PDF for the case's signed, closed state (rendered once per content hash
    and phone variant); with drafts, an unfinished case's sheet marked 草稿 instead of None."""
    final = signoff_complete(case)
    if not final and not drafts:
        return None
    # The paper trail is Chinese whatever the reader's language (the sheet's own headings
    # are): one sheet per variant, which the worker's pre-render has already made.
    with force_locale("zh_CN"):
        context = signoff_context(case, full_phone=full_phone)
    context["draft"] = not final
    # The variant is in the name as well as in the hash, so a masked reader can never be
    # handed the full sheet by a key that happens to match.
    variant = "full" if full_phone else "masked"
    return cached_pdf("case_signoff", lambda: context, folder="signoff", stem=f"{case.number}-{variant}",
                      draft=not final)


def prerender_signoff(case: Case) -> list[Path]:
    """Both phone variants, rendered by the worker right after sign-off (about 0.3 s each
    once the fonts are warm), so every reader's first download is a file read."""
    paths = [signoff_pdf_path(case, full_phone=full) for full in (True, False)]
    return [p for p in paths if p is not None]
