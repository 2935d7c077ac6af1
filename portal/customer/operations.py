"""What the customer does on their page, one function each, as the staff's steps are done
(portal/cases/operations.py): check the link, the case's state and version, write the change,
its audit event and the desk's notifications, commit once. The actor is the customer's
service account (「顾客」), so the timeline says who acted without naming anyone."""
from __future__ import annotations

from flask_babel import gettext as _

from portal.cases import operations as case_ops
from portal.cases.enums import SATISFACTION_DIMENSIONS, Validity
from portal.cases.evidence import StoredFile
from portal.cases.models import Case
from portal.cases.states import State, Step
from portal.clock import utcnow
from portal.customer import links
from portal.customer.models import CaseLink, CustomerAppeal, CustomerRating
from portal.customer.present import APPEALABLE_STATES, RATABLE_STATES, rating_of_result
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.extensions import db
from portal.org.enums import Role
from portal.org.models import User
from portal.org.service import service_user
from portal.signing import audit

REPLY_MAX = 2000
APPEAL_MAX = 2000
COMMENT_MAX = 500


def customer_user() -> User:
    """The account the customer's actions are recorded under (made the first time)."""
    return service_user("customer", "顾客")


def _check(link: CaseLink, version, states) -> Case:
    """The link still works, the case is as the page showed it, and in one of `states`."""
    if not links.usable(link):
        raise PermissionDenied(_("此链接已失效。"))
    case = link.case
    if version is not None and str(version) != str(case.version):
        raise Conflict(_("您的投诉刚刚有了新进展，请查看最新情况后再提交。"))
    if case.state not in states:
        raise Conflict(_("您的投诉当前为「%(stage)s」，不能进行此操作。",
                         stage=_(_stage_label(case))))
    return case


def _stage_label(case: Case) -> str:
    from portal.customer.present import stage_of
    return stage_of(case).label


def _text(value: str | None, field: str, label: str, limit: int, required: bool = True) -> str | None:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError(_("请填写%(field)s。", field=label), {field: _("请填写%(field)s", field=label)})
    if len(value) > limit:
        raise ValidationError(_("%(field)s不能超过 %(n)s 个字。", field=label, n=limit),
                              {field: _("不能超过 %(n)s 个字", n=limit)})
    return value or None


def supply_info(link: CaseLink, version, *, reply: str, files: list[StoredFile] = ()) -> Case:
    """The customer answers what the desk asked (补充信息), as the submitter would: the case
    goes back to the desk to verify, with the reply and photos (checked as any evidence)."""
    case = _check(link, version, {State.INFO_REQUESTED})
    reply = _text(reply, "reply", _("补充说明"), REPLY_MAX)
    actor = customer_user()
    before, after = case_ops._apply(case, {"state": State.NEW, "info_reply": reply,
                                           **case_ops._enter(case, Step.VERIFY)})
    after["files"] = case_ops._attach(case, list(files), actor, "evidence")
    case_ops._commit(case, "info_supplied", actor, before, after, note=reply)
    case_ops._renditions_for(case, files)
    return case


def rate_result(link: CaseLink, version, *, scores: dict[str, int | None], comment: str | None) -> CustomerRating:
    """The customer rates the result on the five dimensions (1–5 each), once per result."""
    case = _check(link, version, set(RATABLE_STATES))
    if rating_of_result(case) is not None:
        raise Conflict(_("您已评价过这次的处理结果，谢谢。"))
    missing = {field: _("请选择 1–5 分") for field, _name in SATISFACTION_DIMENSIONS
               if scores.get(field) is None}
    if missing:
        raise ValidationError(_("请为每一项打分（1 到 5 分）。"), missing)
    bad = {field: _("请选择 1–5 分") for field, _name in SATISFACTION_DIMENSIONS
           if not 1 <= int(scores[field]) <= 5}
    if bad:
        raise ValidationError(_("满意度评分须在 1 到 5 之间。"), bad)
    comment = _text(comment, "comment", _("意见"), COMMENT_MAX, required=False)
    actor = customer_user()
    values = {field: int(scores[field]) for field, _name in SATISFACTION_DIMENSIONS}
    rating = CustomerRating(case_id=case.id, comment=comment, **values)
    db.session.add(rating)
    # Not a step of the workflow: no clock, pause or notification moves (operations._commit would).
    audit.record("customer_rated", actor=actor, object_type="case", object_id=case.id, case_id=case.id,
                 after={**values, "comment": comment}, note=comment)
    db.session.commit()
    return rating


def appeal(link: CaseLink, version, *, reason: str) -> CustomerAppeal:
    """申诉: the customer does not accept the outcome. The case reopens for the desk: a refused
    complaint to be verified again, a result to be dispatched again (the desk chooses the
    department, or a higher level); the appeal is the timeline's note and the desk is told."""
    case = _check(link, version, set(APPEALABLE_STATES))
    reason = _text(reason, "reason", _("申诉理由"), APPEAL_MAX)
    actor = customer_user()
    state_from = case.state
    changes: dict = {"callback_satisfied": None, "decision_comment": None}
    if state_from in (State.CLOSED, State.REJECTED):
        changes.update(closed_at=None, reopen_count=case.reopen_count + 1)
    else:  # waiting for the callback: the customer has answered it, not satisfied
        changes.update(callback_rejections=case.callback_rejections + 1)
    if state_from == State.REJECTED:
        changes.update(state=State.NEW, validity=Validity.PENDING, **case_ops._enter(case, Step.VERIFY))
    else:
        changes.update(state=State.VERIFIED, responsible_unit_id=None, responsible_user_id=None,
                       acknowledged_at=None, settled_on_spot=False, **case_ops._enter(case, Step.DISPATCH))
    row = CustomerAppeal(case_id=case.id, reason=reason, state_from=state_from.value)
    db.session.add(row)
    before, after = case_ops._apply(case, changes)
    after["appeal"] = reason
    case_ops._commit(case, "customer_appealed", actor, before, after, note=reason)
    return row


def regenerate_link(case: Case, actor: User) -> CaseLink:
    """The desk (or the rep who registered it) gives the customer a new link: the old one
    stops working at once (a receipt left behind, a forwarded SMS)."""
    if not actor.has_role(Role.DESK, Role.REP):
        raise PermissionDenied(_("只有业务员和客服专员可以重新生成顾客进度链接。"))
    old = links.current_link(case.id)
    if old is not None:
        old.revoked_at = utcnow()
    link = links.create_link(case, actor)
    db.session.flush()
    audit.record("customer_link_regenerated", actor=actor, object_type="case", object_id=case.id,
                 case_id=case.id, before={"link": old.id} if old else None, after={"link": link.id})
    db.session.commit()
    return link
