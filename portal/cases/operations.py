"""Every change to a case, one function per step of the workflow (DESIGN.md).

Each function checks the actor's role and scope, the case's state and version, writes the
change, its audit event and its notifications, and commits them as one transaction.
Views and jobs call only these.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from portal.i18n import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from portal.cases import access, audience
from portal.cases.compensation import approval_unit_id, assess, assess_case, reason_texts
from portal.cases.enums import Channel, Kind, Klass, Responsibility, SettlementForm, Validity
from portal.cases.evidence import StoredFile
from portal.cases.models import Attachment, Case
from portal.cases.numbering import next_number
from portal.cases.reference import usable_category
from portal.cases.states import STEP_ROLES, State, Step
from portal.clusters import detection as clusters
from portal.escalation import operations as escalation
from portal.clock import as_utc, utcnow
from portal.errors import AlreadySubmitted, Conflict, PermissionDenied, ValidationError
from portal.extensions import db
from portal.jsonutil import jsonable
from portal.labels import N_
from portal.notify import bell, customer
from portal.notify.outbox import hand_to_workers, notify_users
from portal.org.enums import Role
from portal.org.models import OrgUnit, User, UserRole
from portal.org.tree import unit_tree
from portal.signing import audit
from portal.signing.enums import SignatureMeaning
from portal.signing.operations import sign
from portal.sla.policy import step_due
from portal.webhooks import emit as webhooks


@dataclass(frozen=True)
class Transition:
    """A move of the workflow: the step it acts on (or the states it starts from) and its roles."""
    name: str
    label: str
    step: Step | None = None
    states: frozenset = frozenset()
    roles: frozenset = field(default=frozenset())

    @property
    def allowed_roles(self) -> set[Role]:
        return set(self.roles) or STEP_ROLES[self.step]


TRANSITIONS: dict[str, Transition] = {t.name: t for t in [
    Transition("verify", N_("核实"), step=Step.VERIFY),
    Transition("request_info", N_("要求补充信息"), step=Step.VERIFY),
    Transition("supply_info", N_("补充信息"), step=Step.SUPPLEMENT),
    # 现场处理: a rep settles within their own authority before the desk verifies (scope:
    # access.may_settle_on_spot, not the desk's verification scope).
    Transition("settle", N_("现场处理"), step=Step.VERIFY, roles=frozenset({Role.REP})),
    Transition("trace_batch", N_("批号追溯"), step=Step.DISPATCH, roles=frozenset({Role.QUALITY})),
    Transition("dispatch", N_("分派"), step=Step.DISPATCH),
    Transition("acknowledge", N_("首次跟进"), step=Step.ACKNOWLEDGE),
    Transition("propose", N_("提出处理方案"), step=Step.INVESTIGATE),
    Transition("approve", N_("批准"), step=Step.APPROVE),
    Transition("reject", N_("驳回"), step=Step.APPROVE),
    Transition("implement", N_("记录实施"), step=Step.IMPLEMENT),
    Transition("callback", N_("回访"), step=Step.CALLBACK),
    Transition("sign_off", N_("签字结案"), step=Step.SIGN_OFF),
    Transition("reopen", N_("重新打开"), states=frozenset({State.CLOSED}), roles=frozenset({Role.DESK})),
    # 改派: while the department has not yet proposed a solution (scope: _may_redispatch).
    Transition("redispatch", N_("改派"), states=frozenset({State.INVESTIGATING}),
               roles=frozenset({Role.DESK, Role.HANDLER, Role.LEADER})),
]}


# ---------------------------------------------------------------- checks and bookkeeping

def _refusal(case: Case, actor: User, t: Transition, version: int | None):
    """Why `actor` may not take `t` now, as (error class, msgid), or None. The message is
    translated only when raised: the case page asks this of every transition."""
    if not actor.roles & t.allowed_roles:
        return PermissionDenied, N_("您的角色不能执行「%(action)s」。")
    if version is not None and int(version) != case.version:
        return Conflict, N_("投诉 %(number)s 已被他人修改，当前状态为「%(state)s」。请查看最新内容后再操作。")
    if (t.step is not None and case.step != t.step) or (t.states and case.state not in t.states):
        return Conflict, N_("投诉 %(number)s 当前状态为「%(state)s」，不能执行「%(action)s」。")
    scope_step = t.step if t.name not in ("trace_batch", "settle") else None
    if ((scope_step is not None and not access.in_step_scope(case, actor, scope_step))
            or (t.name == "settle" and not access.may_settle_on_spot(case, actor))
            or (t.name == "redispatch" and not _may_redispatch(case, actor))):
        return PermissionDenied, N_("投诉 %(number)s 的「%(action)s」不由您负责。")
    return None


def check(case: Case, actor: User, name: str, version: int | None) -> Transition:
    """Raise the right error if `actor` may not do `name` to `case` now (visibility is the view's 404)."""
    t = TRANSITIONS[name]
    refusal = _refusal(case, actor, t, version)
    if refusal is not None:
        error, msgid = refusal
        raise error(_(msgid, number=case.number, state=case.state.label, action=_(t.label)))
    return t


def available(case: Case, actor: User) -> list[str]:
    """Transitions the actor could take on this case right now (for the page's panels)."""
    return [name for name, t in TRANSITIONS.items() if _refusal(case, actor, t, None) is None
            and (name != "reopen" or _reopen_window_open(case))]


def _snapshot(case: Case, fields) -> dict:
    return {f: jsonable(getattr(case, f)) for f in fields}


def _apply(case: Case, changes: dict) -> tuple[dict, dict]:
    """Set fields; return before/after of what really changed (for the audit event)."""
    before, after = {}, {}
    for key, value in changes.items():
        old = getattr(case, key)
        if jsonable(old) != jsonable(value):
            before[key], after[key] = jsonable(old), jsonable(value)
            setattr(case, key, value)
    return before, after


def _enter(case: Case, step: Step | None, *, unit_id=None, user_id=None, now=None, klass=None) -> dict:
    now = now or utcnow()
    due = step_due(step, now, klass or case.klass, case.channel) if step else None
    return {"step": step, "step_unit_id": unit_id, "step_user_id": user_id,
            "step_started_at": now if step else None, "due_at": due}


# H4: every step message to a person is mailed and also put in their bell (portal/notify/bell.py).
STEP_CHANNELS = ("email", "inapp")


def _notify_step(case: Case, event_seq: int) -> list:
    if case.step is None:
        return []
    # Messages go out in Chinese whatever language the person who acted reads.
    with force_locale("zh_CN"):
        step = case.step.label
    # Who the step waits for, each told what they are asked to do (audience.py).
    tasks: dict[str | None, list[User]] = {}
    for person, task in audience.holding(case):
        tasks.setdefault(task, []).append(person)
    messages = []
    for task, people in tasks.items():
        with force_locale("zh_CN"):
            what = _(task) if task else step
        subject = f"【客诉】{case.number} 待您{what}"
        body = (f"投诉 {case.number}（{case.customer_name}，{case.product_name}）等待您{what}。"
                f"办理时限：{_fmt_due(case)}。")
        messages += notify_users(people, key_prefix=f"case:{case.id}:step:{case.step.value}:{event_seq}",
                                 subject=subject, body=body, case_id=case.id,
                                 channels=STEP_CHANNELS)
    return messages


def _fmt_due(case: Case) -> str:
    from portal.clock import fmt
    return fmt(case.due_at) or "无"


def _commit(case: Case, action: str, actor: User, before: dict, after: dict, note=None,
            notify: bool = True, also=None):
    """Audit, notify, commit as one; a concurrent change turns into a Conflict.

    `also(event_seq)` adds messages beyond the next step's (e.g. to those who lost the step)."""
    try:
        audience.same_people()  # the step's notice and its reminders: one lookup of its holders
        event = audit.record(action, actor=actor, object_type="case", object_id=case.id,
                             case_id=case.id, before=before, after=after, note=note)
        if after.keys() & {"step", "step_started_at", "step_unit_id", "step_user_id"}:
            bell.overtaken(case.id)  # H4: the bell stops counting what the old step asked
        messages = _notify_step(case, event.seq) if notify else []
        if also is not None:
            messages += also(event.seq)
        # Reminders, breach timers, case clocks and the §5 triggers (portal/escalation).
        messages += escalation.on_commit(case, action, before, after, event.seq)
        messages += webhooks.on_case_commit(case, action, before, after, event)  # issue 14
        db.session.flush()
        ids = [m.id for m in messages if m.channel != "inapp"]
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        escalation.forget_unsent()
        fresh = db.session.get(Case, case.id, populate_existing=True)
        raise Conflict(_("投诉 %(number)s 刚刚被他人处理，当前状态为「%(state)s」。请查看最新内容。",
                         number=fresh.number, state=fresh.state.label))
    hand_to_workers(ids)
    escalation.hand_over()
    return case


def _after_commit_job(name: str, *args) -> None:
    """Heavy follow-up work (PDFs) goes to a worker; if Redis is down it happens on demand."""
    from portal.queues import enqueue
    enqueue("default", name, *args, result_ttl=0, failure_ttl=86400)


def _renditions_for(case: Case, files) -> None:
    if any(f.content_type.startswith("image/") for f in files):
        _after_commit_job("jobs.evidence.make_renditions", case.id)


def _require(values: dict[str, object], labels: dict[str, str]) -> None:
    missing = {k: _("请填写%(field)s", field=labels[k]) for k in labels if values.get(k) in (None, "", [])}
    if missing:
        # TRANSLATORS: "、" separates the items of a list of names.
        names = _("、").join(labels[k] for k in missing)
        raise ValidationError(_("请补全必填项：%(fields)s", fields=names), missing)


def _attach(case: Case, files: list[StoredFile], actor: User, purpose: str) -> list[dict]:
    rows = []
    for f in files:
        a = Attachment(case=case, token=f.token, purpose=purpose, uploaded_by_id=actor.id,
                       original_name=f.original_name, stored_name=f.stored_name,
                       content_type=f.content_type, size=f.size, sha256=f.sha256,
                       width=f.width, height=f.height)
        db.session.add(a)
        rows.append({"name": f.original_name, "sha256": f.sha256, "size": f.size})
    return rows


# ---------------------------------------------------------------- intake

INTAKE_FIELDS = ("customer_name", "customer_phone", "customer_address", "region", "customer_type",
                 "product_id", "product_name", "product_spec", "batch_no", "production_date",
                 "quantity", "purchase_place", "purchase_date", "description", "demand",
                 "urgent", "threatens_media")


# Letters, faxes, mail, the press and regulators reach the desk some time after they were
# received; their time limits count from that moment (PROCEDURES.md §4), so the desk enters it.
DEFERRED_CHANNELS = frozenset({Channel.FAX, Channel.LETTER, Channel.EMAIL, Channel.MEDIA,
                               Channel.REGULATOR})
# Older than this is a typing error (a wrong year or month), not a letter that lay on a desk.
RECEIVED_MAX_AGE_DAYS = 30


def _received_time(channel: Channel, received_at, now):
    """The moment the complaint reached the company: now, or what the desk typed for a letter."""
    def refuse(message: str):
        # Shown beside the field itself, whole: the desk needs the reason there.
        raise ValidationError(message, {"received_at": message})
    if received_at is None:
        if channel in DEFERRED_CHANNELS:
            refuse(_("「%(channel)s」渠道的投诉请填写实际收到时间，时限从收到时起算。", channel=channel.label))
        return now
    received_at = as_utc(received_at)
    if received_at > now:
        refuse(_("实际收到时间不能晚于现在。"))
    if received_at < now - timedelta(days=RECEIVED_MAX_AGE_DAYS):
        refuse(_("实际收到时间不能早于 %(days)s 天前，请检查年份和月份。", days=RECEIVED_MAX_AGE_DAYS))
    return received_at


def _submitted_case(intake_key: str | None, files: list[StoredFile]) -> str | None:
    """The number of the case this very form already made, found by the form's key or by one
    of its upload tokens (Back after a successful intake shows the form again with both)."""
    if intake_key:
        number = db.session.execute(sa.select(Case.number).where(Case.intake_key == intake_key)).scalar()
        if number is not None:
            return number
    tokens = [f.token for f in files]
    if not tokens:
        return None
    return db.session.execute(
        sa.select(Case.number).join(Attachment, Attachment.case_id == Case.id)
        .where(Attachment.token.in_(tokens)).limit(1)).scalar()


def _already_submitted(number: str) -> AlreadySubmitted:
    return AlreadySubmitted(_("这份投诉已经提交过，编号 %(number)s，请勿重复提交。", number=number),
                            case_number=number)


def _refuse_resubmission(intake_key: str | None, files: list[StoredFile]) -> None:
    number = _submitted_case(intake_key, files)
    if number is not None:
        raise _already_submitted(number)


def register_case(actor: User, data: dict, files: list[StoredFile], *, channel: Channel | None = None,
                  branch_id: int | None = None, received_at=None, intake_key: str | None = None,
                  vouched: bool = False) -> Case:
    """Intake (受理登记): a rep in the field or the desk registers a complaint.

    `received_at` (desk only) is when a letter, fax or mail arrived; the first time limit
    counts from it. `intake_key` is the form's own key: a form sent twice makes one case.
    `vouched`: the actor is a service account (an API token, portal/api) whose caller already
    checked the channel and branch against the token's scope; it registers like the desk."""
    from portal.org.service import is_service
    vouched = vouched and is_service(actor)
    if not vouched and not actor.has_role(Role.REP, Role.DESK):
        raise PermissionDenied(_("只有业务员和客服专员可以登记投诉。"))
    _require(data, {"customer_name": _("顾客姓名"), "customer_phone": _("联系电话"),
                    "product_name": _("产品"), "description": _("问题描述")})
    now = utcnow()
    if vouched or actor.has_role(Role.DESK):
        channel = channel or Channel.HOTLINE
        received = _received_time(channel, received_at, now)
    else:
        # A rep registers on the spot: the complaint is received as it is typed.
        channel = Channel.FIELD
        branch_id = actor.branch_id()
        received = now
    if branch_id is not None and unit_tree().units.get(branch_id) is None:
        raise ValidationError(_("所选分公司不存在。"), {"branch_id": _("分公司不存在")})
    from portal.batches.lookup import find_batch
    from portal.batches.models import Product
    if data.get("product_id") is not None and db.session.get(Product, data["product_id"]) is None:
        # Only a tampered form gets here (the picker offers catalogue products).
        message = _("所选产品不在产品目录中，请重新选择产品。")
        raise ValidationError(message, {"product_name": message})
    _refuse_resubmission(intake_key, files)
    batch = find_batch(data.get("batch_no"))
    values = {k: data.get(k) for k in INTAKE_FIELDS}
    if batch is not None:
        values["production_date"] = values["production_date"] or batch.production_date
        values["product_id"] = values["product_id"] or batch.product_id
    case = Case(number=next_number(now), received_at=received, channel=channel,
                kind=Kind.COMPLAINT, registered_by_id=actor.id, branch_id=branch_id,
                batch_id=batch.id if batch else None, state=State.NEW,
                suggested_unit_id=batch.production_unit_id if batch else None,
                intake_key=intake_key, **values)
    for k, v in _enter(case, Step.VERIFY, now=received).items():
        setattr(case, k, v)
    try:
        db.session.add(case)
        db.session.flush()
        files_meta = _attach(case, files, actor, "evidence")
        extra = {"received_at": received} if received != now else {}
        _commit(case, "registered", actor, {},
                {"number": case.number, "channel": channel, **extra,
                 **{k: values[k] for k in values if values[k]}, "files": files_meta},
                # H4: the customer told; issue 12: a batch cluster alerts quality once
                also=lambda seq: customer.acknowledge(case, seq) + clusters.note_case(case))
    except sa.exc.IntegrityError:
        # Two sends of one form at the same moment: both passed the check above and the
        # unique key or token stopped the second. Nothing of it stays; it is told the first.
        db.session.rollback()
        number = _submitted_case(intake_key, files)
        if number is None:
            raise
        raise _already_submitted(number) from None
    _renditions_for(case, files)
    return case


# ---------------------------------------------------------------- desk: verify, ask, dispatch

def verify_case(case: Case, actor: User, version: int, *, validity: Validity, kind: Kind | None,
                klass: Klass | None, category_id: int | None, reason: str | None = None,
                urgent: bool | None = None) -> Case:
    check(case, actor, "verify", version)
    if validity is None or validity == Validity.PENDING:
        raise ValidationError(_("请选择核实结论。"), {"validity": _("请选择核实结论")})
    changes = {"validity": validity, "validity_reason": reason or None}
    if validity in (Validity.NOT_VALID, Validity.MALICIOUS):
        # The customer is told why; nothing is dispatched (PROCEDURES.md §1).
        _require({"reason": reason}, {"reason": _("告知顾客的理由")})
        if validity == Validity.MALICIOUS:
            changes["klass"] = Klass.SPECIAL
        changes.update(state=State.REJECTED, closed_at=utcnow(), **_enter(case, None))
        before, after = _apply(case, changes)
        return _commit(case, "rejected", actor, before, after, note=reason,
                       also=lambda seq: customer.tell_closed(case, seq))  # H4: the customer told
    _require({"kind": kind, "klass": klass, "category_id": category_id},
             {"kind": _("投诉性质"), "klass": _("投诉类别"), "category_id": _("原因分类")})
    usable_category(category_id, case.category_id)
    changes.update(kind=kind, klass=klass, category_id=category_id, state=State.VERIFIED)
    if urgent is not None:
        changes["urgent"] = urgent
    changes.update(_enter(case, Step.DISPATCH, klass=klass))  # the limit depends on the new class
    before, after = _apply(case, changes)
    return _commit(case, "verified", actor, before, after, note=reason)


def request_info(case: Case, actor: User, version: int, *, question: str) -> Case:
    check(case, actor, "request_info", version)
    _require({"question": question}, {"question": _("需要补充的内容")})
    submitter = case.registered_by
    changes = {"state": State.INFO_REQUESTED, "info_request": question,
               **_enter(case, Step.SUPPLEMENT, user_id=submitter.id)}
    before, after = _apply(case, changes)
    return _commit(case, "info_requested", actor, before, after, note=question)


def supply_info(case: Case, actor: User, version: int, *, reply: str,
                files: list[StoredFile] = ()) -> Case:
    check(case, actor, "supply_info", version)
    _require({"reply": reply}, {"reply": _("补充说明")})
    changes = {"state": State.NEW, "info_reply": reply, **_enter(case, Step.VERIFY)}
    before, after = _apply(case, changes)
    after["files"] = _attach(case, list(files), actor, "evidence")
    _commit(case, "info_supplied", actor, before, after, note=reply)
    _renditions_for(case, files)
    return case


def trace_batch(case: Case, actor: User, version: int, *, unit_id: int | None = None,
                line: str | None = None, reason: str | None = None) -> Case:
    """Quality traces the batch number to its production department (a suggestion for dispatch).

    Without `unit_id` quality confirms what the batch register says (product, date, department,
    line, shift, where it was shipped). With it quality names the department by hand, with the
    reason: for a batch the register does not know (or knows without a department), or to
    correct the register's answer (the timeline keeps both the register's and quality's)."""
    check(case, actor, "trace_batch", version)
    from portal.batches.lookup import find_batch
    batch = find_batch(case.batch_no)
    known = batch is not None and batch.production_unit_id is not None
    if unit_id:
        unit = _department(unit_id, field="unit_id", message=_("请选择生产部门。"))
        _require({"reason": reason}, {"reason": _("判断依据")})
        where = f"{unit.name} {line or ''}".strip()
        before, after = _apply(case, {"suggested_unit_id": unit.id})
        after.update(line=line or None, reason=reason)
        if known:
            after["register"] = _trace_text(batch)
            return _commit(case, "trace_corrected", actor, before, after,
                           note=f"{where}（{_trace_text(batch)}）：{reason}", notify=False)
        return _commit(case, "batch_assigned", actor, before, after,
                       note=f"{where}：{reason}", notify=False)
    if not known:
        raise ValidationError(_("批号「%(no)s」在批次档案中查不到生产部门。请在下面选择生产部门，并写明判断依据。",
                                no=case.batch_no or _("（未填）")),
                              {"unit_id": _("请选择生产部门")})
    before, after = _apply(case, {"suggested_unit_id": batch.production_unit_id, "batch_id": batch.id})
    return _commit(case, "batch_traced", actor, before, after, note=_trace_text(batch), notify=False)


def _trace_text(batch) -> str:
    """The register's answer in one line of the timeline: "2026090110100 → 生产一部 1号线 早班"."""
    where = " ".join(x for x in (batch.production_unit.name, batch.line, batch.shift) if x)
    return f"{batch.batch_no} → {where}"


def _department(unit_id: int | None, *, field: str = "unit_id", message: str | None = None) -> OrgUnit:
    unit = db.session.get(OrgUnit, unit_id) if unit_id else None
    if unit is None or not unit.active:
        message = message or _("请选择责任部门。")
        raise ValidationError(message, {field: message.rstrip("。")})
    return unit


def units_with_handlers() -> set[int]:
    """Units with at least one active handler: the people the acknowledge step waits for."""
    return set(db.session.execute(
        sa.select(User.unit_id).join(UserRole).where(User.active.is_(True), UserRole.role == Role.HANDLER)
        .distinct()).scalars())


def _dispatch_target(unit_id: int | None, user_id: int | None) -> tuple[OrgUnit, User | None]:
    """The department (and optionally the handler) a case is sent to, checked.

    A step never waits on nobody: a department without an active handler is refused by name,
    since nobody would be told and the case would sit there until its time limit ran out."""
    unit = _department(unit_id)
    person = None
    if user_id:
        person = db.session.get(User, user_id)
        if person is None or not person.active or person.unit_id != unit.id or not person.has_role(Role.HANDLER):
            raise ValidationError(_("指定的经办人不属于该责任部门。"), {"user_id": _("经办人不属于该部门")})
    elif unit.id not in units_with_handlers():
        raise ValidationError(
            _("「%(unit)s」目前没有在岗的经办人，分派后无人接手。请选择其他部门，或请系统管理员先为该部门设置经办人。",
              unit=unit.name),
            {"unit_id": _("「%(unit)s」没有在岗的经办人", unit=unit.name)})
    return unit, person


def _send_to(case: Case, unit: OrgUnit, person: User | None) -> dict:
    """The case waits for the department's first follow-up, with its own time limit."""
    user_id = person.id if person else None
    return {"state": State.INVESTIGATING, "responsible_unit_id": unit.id, "responsible_user_id": user_id,
            **_enter(case, Step.ACKNOWLEDGE, unit_id=unit.id, user_id=user_id)}


def dispatch_case(case: Case, actor: User, version: int, *, unit_id: int,
                  user_id: int | None = None, note: str | None = None) -> Case:
    check(case, actor, "dispatch", version)
    unit, person = _dispatch_target(unit_id, user_id)
    before, after = _apply(case, _send_to(case, unit, person))
    return _commit(case, "dispatched", actor, before, after, note=note)


# ---------------------------------------------------------------- handler: acknowledge, propose

def acknowledge_case(case: Case, actor: User, version: int, *, note: str | None = None) -> Case:
    check(case, actor, "acknowledge", version)
    changes = {"acknowledged_at": utcnow(), "responsible_user_id": case.responsible_user_id or actor.id,
               **_enter(case, Step.INVESTIGATE, unit_id=case.responsible_unit_id,
                        user_id=case.step_user_id)}
    before, after = _apply(case, changes)
    return _commit(case, "acknowledged", actor, before, after, note=note, notify=False)


def propose_solution(case: Case, actor: User, version: int, *, findings: str, root_cause: str,
                     responsibility: Responsibility, responsibility_note: str | None,
                     solution_form: SettlementForm, solution_text: str,
                     product_qty: int | None = None, multiple: Decimal | None = None,
                     cash: Decimal | None = None) -> Case:
    check(case, actor, "propose", version)
    _require({"findings": findings, "root_cause": root_cause, "responsibility": responsibility,
              "solution_form": solution_form, "solution_text": solution_text},
             {"findings": _("调查结果"), "root_cause": _("原因分析"), "responsibility": _("责任认定"),
              "solution_form": _("处理方式"), "solution_text": _("处理方案")})
    _check_amounts(product_qty=product_qty, multiple=multiple, cash=cash)
    assessment = assess_case(case, multiple=multiple, cash=cash)
    reasons = assessment.reasons
    now = utcnow()
    changes = {"findings": findings, "root_cause": root_cause, "responsibility": responsibility,
               "responsibility_note": responsibility_note or None, "solution_form": solution_form,
               "solution_text": solution_text, "comp_product_qty": product_qty,
               "comp_multiple": multiple, "comp_cash": cash, "needs_approval": bool(reasons),
               "approval_reasons": reasons or None, "proposed_at": now, "decision_comment": None,
               "acknowledged_at": case.acknowledged_at or now}
    if reasons:
        # The rule names whose leader decides: the department's, or the company's (§7).
        changes.update(state=State.PROPOSED, **_enter(
            case, Step.APPROVE, unit_id=approval_unit_id(case, assessment.approver)))
    else:
        changes.update(state=State.APPROVED, **_enter(case, Step.IMPLEMENT, unit_id=case.responsible_unit_id,
                                                      user_id=case.responsible_user_id))
    before, after = _apply(case, changes)
    return _commit(case, "proposed", actor, before, after, note=_assessment_note(assessment))


def _assessment_note(assessment) -> str:
    """The audit note is a Chinese record, whatever language the proposer reads."""
    if not assessment.reasons:
        return "在经办权限内，直接实施"
    with force_locale("zh_CN"):
        return f"需{assessment.approver.label}批示：" + "；".join(reason_texts(assessment.reasons))


def _check_amounts(**amounts) -> None:
    for name, value in amounts.items():
        if value is not None and value < 0:
            raise ValidationError(_("补偿数额不能为负数。"), {name: _("不能为负数")})


def settle_on_spot(case: Case, actor: User, version: int, *, klass: Klass | None,
                   category_id: int | None, solution_form: SettlementForm | None, text: str,
                   product_qty: int | None = None, multiple: Decimal | None = None,
                   cash: Decimal | None = None) -> Case:
    """现场处理 (PROCEDURES.md §7): the rep settled at the customer's within their own authority,
    so the case skips dispatch and investigation and waits for the desk to confirm with the
    customer (回访), then for sign-off (or, the customer not satisfied after all, for the
    desk to dispatch it: _handle_again). Beyond that authority nothing changes: the case goes
    the normal way, and the rep is told which rule stops it."""
    check(case, actor, "settle", version)
    _require({"klass": klass, "category_id": category_id, "solution_form": solution_form, "text": text},
             {"klass": _("投诉类别"), "category_id": _("原因分类"), "solution_form": _("处理方式"),
              "text": _("现场处理情况")})
    category = usable_category(category_id, case.category_id)
    if case.branch_id is None:
        raise ValidationError(_("投诉没有所属分公司，不能现场处理。"))
    _check_amounts(product_qty=product_qty, multiple=multiple, cash=cash)
    assessment = assess(klass, category, threatens_media=case.threatens_media, multiple=multiple, cash=cash)
    if assessment.reasons:
        raise ValidationError(_("超出业务员现场处理权限：%(reasons)s。请不要现场处理，投诉将按正常流程由客服核实、分派。",
                                reasons=_("；").join(reason_texts(assessment.reasons))))
    now = utcnow()
    changes = {"validity": Validity.VALID, "kind": case.kind or Kind.COMPLAINT, "klass": klass,
               "category_id": category.id, "settled_on_spot": True,
               # The branch answers for a local settlement (PROCEDURES.md §8); its leaders,
               # or the company's, sign it off.
               "responsible_unit_id": case.branch_id, "solution_form": solution_form,
               "solution_text": text, "comp_product_qty": product_qty, "comp_multiple": multiple,
               "comp_cash": cash, "needs_approval": False, "approval_reasons": None,
               "proposed_at": now, "implemented_at": now,
               "state": State.CONFIRMING, **_enter(case, Step.CALLBACK, unit_id=case.branch_id, klass=klass)}
    before, after = _apply(case, changes)
    return _commit(case, "settled_on_spot", actor, before, after, note=text)


PROPOSAL_FIELDS = ("number", "klass", "category_id", "findings", "root_cause", "responsibility",
                   "responsibility_note", "solution_form", "solution_text", "comp_product_qty",
                   "comp_multiple", "comp_cash", "approval_reasons", "proposed_at")


# ---------------------------------------------------------------- leader: approve / reject (批示)

def approve_proposal(case: Case, actor: User, version: int, *, password: str,
                     comment: str | None = None) -> Case:
    check(case, actor, "approve", version)
    sign(actor, password, meaning=SignatureMeaning.APPROVE, role=Role.LEADER, object_type="case",
         object_id=case.id, case_id=case.id, content=_snapshot(case, PROPOSAL_FIELDS), comment=comment)
    changes = {"state": State.APPROVED, "decision_comment": comment or None,
               **_enter(case, Step.IMPLEMENT, unit_id=case.responsible_unit_id,
                        user_id=case.responsible_user_id)}
    before, after = _apply(case, changes)
    return _commit(case, "approved", actor, before, after, note=comment)


def reject_proposal(case: Case, actor: User, version: int, *, password: str, comment: str) -> Case:
    check(case, actor, "reject", version)
    _require({"comment": comment}, {"comment": _("驳回意见")})
    sign(actor, password, meaning=SignatureMeaning.REJECT, role=Role.LEADER, object_type="case",
         object_id=case.id, case_id=case.id, content=_snapshot(case, PROPOSAL_FIELDS), comment=comment)
    changes = {"state": State.INVESTIGATING, "decision_comment": comment,
               **_enter(case, Step.INVESTIGATE, unit_id=case.responsible_unit_id,
                        user_id=case.responsible_user_id)}
    before, after = _apply(case, changes)
    return _commit(case, "proposal_rejected", actor, before, after, note=comment)


# ---------------------------------------------------------------- implementation and callback

def record_implementation(case: Case, actor: User, version: int, *, text: str,
                          files: list[StoredFile] = ()) -> Case:
    check(case, actor, "implement", version)
    _require({"text": text}, {"text": _("实施情况")})
    changes = {"state": State.CONFIRMING, "implementation_text": text, "implemented_at": utcnow(),
               **_enter(case, Step.CALLBACK, unit_id=case.branch_id)}
    before, after = _apply(case, changes)
    after["files"] = _attach(case, list(files), actor, "implementation")
    _commit(case, "implemented", actor, before, after, note=text)
    _renditions_for(case, files)
    return case


def _still_handles(user_id: int | None, unit_id: int) -> bool:
    """Can this person still act on the department's steps (as access.in_step_scope asks)?"""
    person = db.session.get(User, user_id) if user_id else None
    return (person is not None and person.active and person.has_role(Role.HANDLER)
            and unit_tree().contains(person.unit_id, unit_id))


def _handle_again(case: Case) -> tuple[dict, str | None]:
    """Where a case goes to be handled again (顾客不满意, 重新打开), and, when that is not simply
    back to its department and handler, the timeline's words on why.

    A step never waits on nobody. A rep's on-the-spot settlement made the branch answer for
    it, and a branch investigates nothing (it has no handlers); a department may have lost
    all its handlers since. Either way the desk dispatches the case afresh to a department
    that can take it, told as for any case waiting for dispatch. A handler who can no longer
    act leaves the case to their department's other handlers."""
    unit_id, user_id = case.responsible_unit_id, case.responsible_user_id
    if case.settled_on_spot:
        why = "现场处理未能解决，转客服分派责任部门调查"
    elif unit_id is None or unit_id not in units_with_handlers():
        name = case.responsible_unit.name if case.responsible_unit else "—"
        why = f"「{name}」已没有在岗的经办人，转客服重新分派"
    else:
        why = None
        if user_id is not None and not _still_handles(user_id, unit_id):
            why = f"原经办人{case.responsible_user.name}已不在岗，由「{case.responsible_unit.name}」经办人接手"
            user_id = None
        return {"state": State.INVESTIGATING, "responsible_user_id": user_id,
                **_enter(case, Step.INVESTIGATE, unit_id=unit_id, user_id=user_id)}, why
    # Whoever takes it acknowledges afresh (as after 改派). The settlement no longer stands:
    # from here the department's solution is confirmed as any other (access.in_step_scope).
    return {"state": State.VERIFIED, "responsible_unit_id": None, "responsible_user_id": None,
            "acknowledged_at": None, "settled_on_spot": False, **_enter(case, Step.DISPATCH)}, why


def _with_reason(note: str | None, why: str | None) -> str | None:
    return "\n".join(t for t in (note, why) if t) or None


def record_callback(case: Case, actor: User, version: int, *, reached: bool,
                    satisfied: bool | None, scores: dict[str, int | None],
                    comment: str | None) -> Case:
    """Call the customer back (回访). Not satisfied: handled again, one level higher (_handle_again)."""
    check(case, actor, "callback", version)
    if reached is None:
        raise ValidationError(_("请选择是否联系上顾客。"), {"reached": _("请选择")})
    changes = {"callback_reached": reached, "callback_at": utcnow(), "callback_comment": comment or None,
               "callback_count": (case.callback_count or 0) + 1}
    if not reached:
        # Try again later; the step and its time limit stay as they are.
        before, after = _apply(case, changes)
        return _commit(case, "callback_unreached", actor, before, after, note=comment, notify=False)
    if satisfied is None:
        raise ValidationError(_("请选择顾客是否满意。"), {"satisfied": _("请选择")})
    for key, value in scores.items():
        if value is not None and not 1 <= value <= 5:
            raise ValidationError(_("满意度评分须在 1 到 5 之间。"), {key: _("1–5 分")})
    changes.update(callback_satisfied=satisfied, **scores)
    if satisfied:
        changes.update(**_enter(case, Step.SIGN_OFF, unit_id=case.responsible_unit_id))
        action, note = "callback_satisfied", comment
    else:
        if not comment:
            raise ValidationError(_("顾客不满意时请写明原因。"), {"comment": _("请写明顾客不满意的原因")})
        again, why = _handle_again(case)
        # The approval comment belonged to the old proposal (it stays in its signature).
        changes.update(callback_rejections=case.callback_rejections + 1, decision_comment=None, **again)
        note = _with_reason(comment, why)
        action = "callback_unsatisfied"
    before, after = _apply(case, changes)
    return _commit(case, action, actor, before, after, note=note)


CLOSING_FIELDS = PROPOSAL_FIELDS + (
    "customer_name", "product_name", "batch_no", "implementation_text", "implemented_at",
    "callback_satisfied", "score_quality", "score_speed", "score_attitude", "score_info",
    "score_safety", "callback_comment", "callback_rejections")


def sign_off_case(case: Case, actor: User, version: int, *, password: str,
                  comment: str | None = None) -> Case:
    """The department leader signs (签字) and the case closes."""
    check(case, actor, "sign_off", version)
    sign(actor, password, meaning=SignatureMeaning.SIGN_OFF, role=Role.LEADER, object_type="case",
         object_id=case.id, case_id=case.id, content=_snapshot(case, CLOSING_FIELDS), comment=comment)
    changes = {"state": State.CLOSED, "closed_at": utcnow(), **_enter(case, None)}
    before, after = _apply(case, changes)
    _commit(case, "signed_off", actor, before, after, note=comment,
            also=lambda seq: customer.tell_closed(case, seq))  # H4: the customer told
    _after_commit_job("jobs.documents.render_case_signoff", case.id)  # first download is instant
    return case


def _reopen_window_open(case: Case) -> bool:
    days = current_app.config.get("REOPEN_DAYS", 90)
    return case.closed_at is not None and as_utc(case.closed_at) + timedelta(days=days) >= utcnow()


def reopen_case(case: Case, actor: User, version: int, *, reason: str) -> Case:
    check(case, actor, "reopen", version)
    _require({"reason": reason}, {"reason": _("重新打开的原因")})
    if not _reopen_window_open(case):
        raise Conflict(_("投诉 %(number)s 结案已超过 %(days)s 天，不能重新打开；请登记为新的投诉。",
                         number=case.number, days=current_app.config["REOPEN_DAYS"]))
    again, why = _handle_again(case)
    changes = {"closed_at": None, "reopen_count": case.reopen_count + 1,
               "callback_satisfied": None, "decision_comment": None, **again}
    before, after = _apply(case, changes)
    return _commit(case, "reopened", actor, before, after, note=_with_reason(reason, why))


# ---------------------------------------------------------------- re-dispatch (改派)

def _may_redispatch(case: Case, actor: User) -> bool:
    """The desk, or a handler or leader of the department that holds the case (or above it):
    they are the ones who find out it is not theirs."""
    if actor.has_role(Role.DESK):
        return True
    return (actor.has_role(Role.HANDLER, Role.LEADER) and case.responsible_unit_id is not None
            and unit_tree().contains(actor.unit_id, case.responsible_unit_id))


def redispatch_case(case: Case, actor: User, version: int, *, unit_id: int,
                    user_id: int | None = None, reason: str) -> Case:
    """Send a case on to the right department: it starts there at the first follow-up,
    with a fresh time limit and its people notified; the reason goes into the timeline."""
    check(case, actor, "redispatch", version)
    _require({"reason": reason}, {"reason": _("改派原因")})
    unit, person = _dispatch_target(unit_id, user_id)
    old = case.responsible_unit
    if unit.id == case.responsible_unit_id:
        raise ValidationError(_("投诉已在「%(unit)s」，请选择另一个部门。", unit=unit.name),
                              {"unit_id": _("请选择另一个部门")})
    # Whoever held the step is told it left them (the actor knows: they sent it on).
    holders = [u for u in audience.holders(case) if u.id != actor.id]
    old_name = old.name if old else "—"
    # What the old department had begun is not the new one's: it acknowledges afresh.
    before, after = _apply(case, {**_send_to(case, unit, person), "acknowledged_at": None})

    def tell_holders(event_seq: int) -> list:
        return _notify_redispatched(case, holders, event_seq, old_name=old_name, new=unit,
                                    actor=actor, reason=reason)
    return _commit(case, "redispatched", actor, before, after,
                   note=f"{old_name} → {unit.name}：{reason}", also=tell_holders)


def _notify_redispatched(case: Case, holders: list[User], event_seq: int, *, old_name: str,
                         new: OrgUnit, actor: User, reason: str) -> list:
    """The old department learns where its case went and why, so nobody keeps working on it."""
    subject = f"【客诉】{case.number} 已改派至{new.name}"
    body = (f"投诉 {case.number}（{case.customer_name}，{case.product_name}）已由{actor.name}"
            f"从「{old_name}」改派至「{new.name}」，原因：{reason}。此投诉不再需要您办理。")
    return notify_users(holders, key_prefix=f"case:{case.id}:redispatched:{event_seq}",
                        subject=subject, body=body, case_id=case.id, channels=STEP_CHANNELS)
