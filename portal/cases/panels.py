"""The step panels of the case page: which form each step uses and how it calls its operation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.attributes import set_committed_value
from wtforms.fields.choices import SelectChoice

from forms import cases as f
from portal import dbreads, refcache
from portal.batches.lookup import find_batch
from portal.batches.models import Product
from portal.capa.models import sheet_case
from portal.capa.queries import sheets_for_case
from portal.cases import access, evidence, hurry, operations, queries
from portal.cases.compensation import decided_by, reason_texts
from portal.cases.enums import Kind, Klass, Responsibility, SettlementForm, Validity
from portal.cases.models import Attachment, Case, Category
from portal.cases.states import State, Step
from portal.cases.timeline import ACTION_LABELS, case_events, case_signatures, event_label
from portal.clusters.models import BatchClusterCase
from portal.clusters.queries import cluster_of_case
from portal.customer import links as customer_links
from portal.customer.models import CaseLink
from portal.errors import ValidationError
from portal.escalation.history import history as escalation_history, page_messages
from portal.extensions import db
from portal.notify import customer
from portal.org.enums import Role, UnitKind
from portal.org.models import User, UserRole
from portal.org.tree import unit_tree
from portal.signing.models import Signature
from portal.sla.models import CasePause
from portal.sla.pauses import case_pauses


def _files(form) -> list:
    kept, error = evidence.collect(request.files.getlist(form.photos.name),
                                   request.form.getlist("upload_token"), current_user.id)
    if error:
        raise ValidationError(error, {"photos": error})
    return kept


def _id(value) -> int | None:
    return int(value) if (value or "").isdigit() else None


def _yes(value) -> bool | None:
    return {"yes": True, "no": False}.get(value)


@dataclass
class StepForm:
    form_class: type
    run: Callable


STEP_FORMS: dict[str, StepForm] = {
    "verify": StepForm(f.VerifyForm, lambda c, u, fm: operations.verify_case(
        c, u, fm.version.data, validity=Validity.get(fm.validity.data), kind=Kind.get(fm.kind.data),
        klass=Klass.get(fm.klass.data),
        category_id=int(fm.category_id.data) if (fm.category_id.data or "").isdigit() else None,
        reason=(fm.reason.data or "").strip() or None)),
    "request_info": StepForm(f.RequestInfoForm, lambda c, u, fm: operations.request_info(
        c, u, fm.version.data, question=fm.question.data.strip())),
    "supply_info": StepForm(f.SupplyInfoForm, lambda c, u, fm: operations.supply_info(
        c, u, fm.version.data, reply=fm.reply.data.strip(), files=_files(fm))),
    "settle": StepForm(f.SettleForm, lambda c, u, fm: operations.settle_on_spot(
        c, u, fm.version.data, klass=Klass.get(fm.klass.data),
        category_id=int(fm.category_id.data) if (fm.category_id.data or "").isdigit() else None,
        solution_form=SettlementForm.get(fm.solution_form.data), text=fm.text.data.strip(),
        product_qty=fm.product_qty.data, multiple=fm.multiple.data, cash=fm.cash.data)),
    "trace_batch": StepForm(f.TraceForm, lambda c, u, fm: operations.trace_batch(
        c, u, fm.version.data, unit_id=_id(fm.unit_id.data), line=(fm.line.data or "").strip() or None,
        reason=(fm.reason.data or "").strip() or None)),
    "dispatch": StepForm(f.DispatchForm, lambda c, u, fm: operations.dispatch_case(
        c, u, fm.version.data, unit_id=_id(fm.unit_id.data), user_id=_id(fm.user_id.data),
        note=(fm.note.data or "").strip() or None)),
    "acknowledge": StepForm(f.AcknowledgeForm, lambda c, u, fm: operations.acknowledge_case(
        c, u, fm.version.data, note=(fm.note.data or "").strip() or None)),
    "propose": StepForm(f.ProposeForm, lambda c, u, fm: operations.propose_solution(
        c, u, fm.version.data, findings=fm.findings.data.strip(), root_cause=fm.root_cause.data.strip(),
        responsibility=Responsibility.get(fm.responsibility.data),
        responsibility_note=(fm.responsibility_note.data or "").strip() or None,
        solution_form=SettlementForm.get(fm.solution_form.data), solution_text=fm.solution_text.data.strip(),
        product_qty=fm.product_qty.data, multiple=fm.multiple.data, cash=fm.cash.data)),
    "approve": StepForm(f.DecisionForm, lambda c, u, fm: operations.approve_proposal(
        c, u, fm.version.data, password=fm.password.data, comment=(fm.comment.data or "").strip() or None)),
    "reject": StepForm(f.DecisionForm, lambda c, u, fm: operations.reject_proposal(
        c, u, fm.version.data, password=fm.password.data, comment=(fm.comment.data or "").strip())),
    "implement": StepForm(f.ImplementForm, lambda c, u, fm: operations.record_implementation(
        c, u, fm.version.data, text=fm.text.data.strip(), files=_files(fm))),
    "callback": StepForm(f.CallbackForm, lambda c, u, fm: operations.record_callback(
        c, u, fm.version.data, reached=_yes(fm.reached.data), satisfied=_yes(fm.satisfied.data),
        scores=fm.scores(), comment=(fm.comment.data or "").strip() or None)),
    "sign_off": StepForm(f.SignOffForm, lambda c, u, fm: operations.sign_off_case(
        c, u, fm.version.data, password=fm.password.data, comment=(fm.comment.data or "").strip() or None)),
    "reopen": StepForm(f.ReopenForm, lambda c, u, fm: operations.reopen_case(
        c, u, fm.version.data, reason=fm.reason.data.strip())),
    "redispatch": StepForm(f.RedispatchForm, lambda c, u, fm: operations.redispatch_case(
        c, u, fm.version.data, unit_id=_id(fm.unit_id.data), user_id=_id(fm.user_id.data),
        reason=fm.reason.data.strip())),
}
# The decision panel shows approve and reject together; reject posts the same form.
PANEL_OF = {"reject": "approve"}


def category_choices() -> list[tuple[str, str]]:
    """The active cause tree as options, "大类 / 小类" (kept a minute: portal/refcache)."""
    from portal.i18n import locale_code
    return refcache.get(("category_choices", locale_code()), _category_choices)


def _category_choices() -> list[tuple[str, str]]:
    cats = db.session.execute(sa.select(Category.id, Category.parent_id, Category.name)
                              .where(Category.active.is_(True)).order_by(Category.sort, Category.id)).all()
    roots = [c for c in cats if c.parent_id is None]
    out = [("", _("请选择"))]
    for root in roots:
        out.append((str(root.id), root.name))
        out.extend((str(c.id), f"{root.name} / {c.name}") for c in cats if c.parent_id == root.id)
    return out


def _handler_choices(unit_id: int | None) -> list[tuple[str, str]]:
    q = (sa.select(User).join(UserRole).where(User.active.is_(True), UserRole.role == Role.HANDLER)
         .order_by(User.unit_id, User.name))
    users = db.session.execute(q).unique().scalars().all()
    return [("", _("由部门内部安排"))] + [(str(u.id), f"{u.unit.name} · {u.name}") for u in users
                                   if unit_id is None or u.unit_id == unit_id]


def department_choices(*, mark_empty: bool = False, exclude: int | None = None) -> list:
    """The departments of the dispatch pickers. With `mark_empty`, a department without an
    active handler says so and cannot be picked: nobody there would take the case."""
    staffed = operations.units_with_handlers() if mark_empty else None
    out = [("", _("请选择"))]
    for u, _depth in unit_tree().ordered(kind=UnitKind.DEPARTMENT):
        if u.id == exclude:
            continue
        if staffed is not None and u.id not in staffed:
            out.append(SelectChoice(str(u.id), _("%(unit)s（无在岗经办人）", unit=u.name),
                                    render_kw={"disabled": True}))
        else:
            out.append((str(u.id), u.name))
    return out


def prepare_form(action: str, form, case: Case) -> None:
    if action in ("verify", "settle"):
        form.category_id.choices = category_choices()
    elif action in ("dispatch", "redispatch"):
        exclude = case.responsible_unit_id if action == "redispatch" else None
        form.unit_id.choices = department_choices(mark_empty=True, exclude=exclude)
        form.user_id.choices = _handler_choices(_id(form.unit_id.data))
    elif action == "trace_batch":
        form.unit_id.choices = department_choices()


def prefill_proposal(form, case: Case) -> None:
    """After 驳回, 不满意 or a reopening the handler revises the last proposal rather than
    typing it again: the form starts from what the case holds."""
    if not case.findings:
        return
    form.findings.data = case.findings
    form.root_cause.data = case.root_cause
    form.responsibility.data = case.responsibility.value if case.responsibility else ""
    form.responsibility_note.data = case.responsibility_note
    form.solution_form.data = case.solution_form.value if case.solution_form else ""
    form.solution_text.data = case.solution_text
    form.product_qty.data = case.comp_product_qty
    form.multiple.data = case.comp_multiple
    form.cash.data = case.comp_cash


def panel_forms(case: Case, actions: list[str]) -> dict:
    forms = {}
    for action in actions:
        if action in PANEL_OF:
            continue
        form = STEP_FORMS[action].form_class(prefix=action, formdata=None)
        form.version.data = case.version
        prepare_form(action, form, case)
        if action == "verify":
            form.kind.data = (case.kind or Kind.COMPLAINT).value
            form.klass.data = case.klass.value if case.klass else ""
            form.category_id.data = str(case.category_id or "")
        if action == "dispatch":
            form.unit_id.data = str(case.suggested_unit_id or case.responsible_unit_id or "")
        if action == "propose":
            prefill_proposal(form, case)
        forms[action] = form
    return forms


_NOT_READ = object()


@dataclass(frozen=True)
class CaseHas:
    """Which of the case page's collections the case has any rows in, and the token of its
    customer link in force. Most cases have no signature, pause, cluster or corrective-action
    sheet yet: one query of five EXISTS spares the page a look-up for each of them.
    `batch`: the case's registered batch when it came with the case row (routes.get_case_page);
    otherwise the page looks it up."""
    attachments: bool
    signatures: bool
    pauses: bool
    clusters: bool
    sheets: bool
    link_token: str | None
    batch: object = _NOT_READ

    def case_batch(self, case: Case):
        return find_batch(case.batch_no) if self.batch is _NOT_READ else self.batch


_HAS_COLUMNS = (Attachment.case_id, Signature.case_id, CasePause.case_id, BatchClusterCase.case_id,
                sheet_case.c.case_id)


def _link_token(case_id):
    return customer_links.current_link_query(case_id, CaseLink.token).scalar_subquery()


# Asked with the case itself (routes.get_case_page), or on their own for a case at hand.
HAS_WITH_CASE = (*(sa.exists().where(c == Case.id) for c in _HAS_COLUMNS),
                 _link_token(Case.id).correlate(Case))
_CASE_HAS = sa.select(*(sa.exists().where(c == sa.bindparam("case_id")) for c in _HAS_COLUMNS),
                      _link_token(sa.bindparam("case_id")))


def case_has(case: Case, answers=None, **read) -> CaseHas:
    """`answers`: the HAS_WITH_CASE columns of the case's own row, when it came with them;
    `read`: what else came with it (batch)."""
    has = CaseHas(*(answers if answers is not None
                    else dbreads.rows(_CASE_HAS, {"case_id": case.id})[0]), **read)
    if not has.attachments and "attachments" not in case.__dict__:
        set_committed_value(case, "attachments", [])  # case.photos, case.documents: no lazy load
    return has


def detail_context(case: Case, failed_action: str | None = None, failed_form=None,
                   message: str | None = None, has: CaseHas | None = None) -> dict:
    has = has or case_has(case)
    actions = operations.available(case, current_user)
    forms = panel_forms(case, actions)
    if failed_action and failed_form is not None:
        failed_form.version.data = case.version
        forms[PANEL_OF.get(failed_action, failed_action)] = failed_form
    batch = has.case_batch(case)
    next_approval = None
    if current_user.has_role(Role.LEADER):
        # Leaders work through their approval queue on a phone: offer the next one.
        waiting = queries.inbox(current_user, limit=2, steps=[Step.APPROVE, Step.SIGN_OFF])
        next_approval = next((r.number for r in waiting if r.number != case.number), None)
    events = case_events(case.id)
    batch_cases, earlier = queries.neighbours(case, current_user)
    messages = page_messages(case)
    return {
        "next_approval": next_approval,
        "case": case, "actions": actions, "forms": forms, "message": message,
        "failed_action": PANEL_OF.get(failed_action, failed_action),
        "events": events, "action_labels": ACTION_LABELS, "event_label": event_label,
        "approval_reasons": reason_texts(case.approval_reasons), "decided_by": decided_by(case),
        "signatures": case_signatures(case.id) if has.signatures else [], "batch": batch,
        "batch_cases": batch_cases, "batch_case_total": batch_cases[0].total if batch_cases else 0,
        "earlier": earlier,
        "full_phone": access.sees_full_phone(case, current_user),
        "State": State,
        "hurry": hurry.panel_state(case, current_user, events=events),  # H4: the 催办 panel (None: not shown)
        "customer_told": customer.told_of(case, messages),  # H4: the customer's SMS (portal/notify/customer.py)
        "ladder": escalation_history(case, messages),  # H5: the ladder level, why, reminders and escalations
        "pauses": case_pauses(case.id) if has.pauses else [],  # H1: the case clocks' pauses (waiting on submitter/customer)
        "cluster": cluster_of_case(case, current_user) if has.clusters else None,  # issue 12: 批号聚集
        "sheets": sheets_for_case(case, current_user) if has.sheets else [],  # the capa block
        "link_token": has.link_token,  # the 顾客进度链接 card (portal/customer/routes.py)
    }


def list_choices() -> dict:
    """Options of the list's filter form. Kept a minute per language (portal/refcache):
    categories and branches change rarely, and a filter list a minute old is harmless."""
    from portal.i18n import locale_code
    return refcache.get(("list_choices", locale_code()), _list_choices)


def _list_choices() -> dict:
    from portal.cases.states import State as S
    choices = {
        "state_choices": [("", _("全部状态")), ("open", _("未结案"))] + S.choices(),
        "klass_choices": [("", _("全部类别"))] + Klass.choices(),
        "category_choices": [("", _("全部原因"))] + [c for c in category_choices()[1:] if " / " not in c[1]]
        + [("none", _("未分类"))],
        "branch_choices": [("", _("全部分公司"))] + [(str(u.id), u.name) for u, _d in unit_tree().ordered(kind=UnitKind.BRANCH)],
        "product_choices": [("", _("全部产品"))] + [(str(p.id), p.display) for p in db.session.execute(
            sa.select(Product).where(Product.active.is_(True)).order_by(Product.name, Product.id)).scalars()]
        + [("none", _("未关联产品"))],
        "unit_choices": [("", _("全部责任部门"))] + [(str(u.id), u.name) for u, _d in unit_tree().ordered(kind=UnitKind.DEPARTMENT)]
        + [("none", _("未定责任部门"))],
        "step_choices": [("", _("全部环节"))] + Step.choices(),
    }
    return choices
