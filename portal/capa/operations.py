"""Every change to a corrective-action sheet, one function per step (PROCEDURES.md §8).

As for cases (portal/cases/operations.py): each checks the actor's role and place, the
sheet's state and version, writes the change, its audit event, its signature and the
messages to whoever the sheet waits for next, and commits them as one transaction.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from portal.i18n import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from portal.batches.lookup import find_batch, normalise_batch_no
from portal.capa import access
from portal.capa.models import CorrectiveAction
from portal.capa.numbering import next_number
from portal.capa.states import MAX_WHYS, MOVES, OPEN_STATES, Layout, SheetState
from portal.cases import access as case_access
from portal.cases.evidence import StoredFile
from portal.cases.models import Attachment, Case
from portal.clock import SHANGHAI, as_utc, fmt, local, utcnow
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.extensions import db
from portal.jsonutil import jsonable
from portal.notify.outbox import hand_to_workers, notify_users
from portal.org.enums import Role, UnitKind
from portal.org.models import OrgUnit, User
from portal.queues import enqueue
from portal.signing import audit
from portal.signing.enums import SignatureMeaning
from portal.signing.operations import sign
from portal.sla.due import WORKING, add_time
from portal.sla.policy import work_calendar
from portal.webhooks import emit as webhooks

OBJECT_TYPE = "corrective_action"
CHANNELS = ("email", "inapp")

# Time limits, in working days of the holiday calendar (portal/sla): the department answers
# within three, its leader approves within one, and quality verifies within five working
# days after the owner's date for the measures (the effect can only be seen after them).
WORKING_DAY = timedelta(hours=9)  # 08:30–17:30
RESPOND_DAYS, APPROVE_DAYS, VERIFY_DAYS = 3, 1, 5


def _due(start: datetime, days: int) -> datetime:
    return add_time(start, WORKING_DAY * days, WORKING, work_calendar())


def _verify_due(now: datetime, owner_date: date | None) -> datetime:
    start = now
    if owner_date is not None:
        start = max(now, datetime.combine(owner_date, time(17, 30), SHANGHAI))
    return _due(start, VERIFY_DAYS)


# ---------------------------------------------------------------- checks and bookkeeping

def _check(sheet: CorrectiveAction, actor: User, to: SheetState, version, label: str,
           only_from: SheetState | None = None) -> None:
    """Refuse, with the reason, a move the actor may not make now (visibility is the view's 404).
    `only_from`: a move that reaches `to` from one state only (the leader's send back)."""
    if version is not None and int(version) != sheet.version:
        raise Conflict(_("纠正预防单 %(number)s 已被他人修改，当前状态为「%(state)s」。请查看最新内容后再操作。",
                         number=sheet.number, state=sheet.state.label))
    if to not in MOVES[sheet.state] or only_from not in (None, sheet.state):
        raise Conflict(_("纠正预防单 %(number)s 当前状态为「%(state)s」，不能%(action)s。",
                         number=sheet.number, state=sheet.state.label, action=label))
    if not access.may_act(sheet, actor):
        raise PermissionDenied(_("纠正预防单 %(number)s 的这一步不由您负责。", number=sheet.number))


def _require(values: dict, labels: dict) -> None:
    missing = {k: _("请填写%(field)s", field=labels[k]) for k in labels if values.get(k) in (None, "", [])}
    if missing:
        # TRANSLATORS: "、" separates the items of a list of names.
        raise ValidationError(_("请补全必填项：%(fields)s", fields=_("、").join(labels[k] for k in missing)),
                              missing)


def _apply(sheet: CorrectiveAction, changes: dict) -> tuple[dict, dict]:
    before, after = {}, {}
    for key, value in changes.items():
        old = getattr(sheet, key)
        if jsonable(old) != jsonable(value):
            before[key], after[key] = jsonable(old), jsonable(value)
            setattr(sheet, key, value)
    return before, after


def sheet_link(number: str) -> str:
    base = (current_app.config.get("PORTAL_BASE_URL") or "").rstrip("/")
    return f"{base}/ca/{number}"


# What each state asks of the people it waits for (in the message's subject).
ASKS = {SheetState.ISSUED: "回复", SheetState.RETURNED: "重新整改并回复",
        SheetState.RESPONDED: "批准", SheetState.APPROVED: "验证效果"}


def _notify(sheet: CorrectiveAction, event_seq: int, note: str | None) -> list:
    """Tell whoever the sheet waits for now; on closing, the department that answered it.
    Messages go out in Chinese, whatever language the actor reads."""
    if sheet.state == SheetState.CLOSED:
        people = access.HANDLERS.members(sheet)
        subject = f"【纠正预防单】{sheet.number} 验证有效，已关闭"
    else:
        people = access.holders(sheet)
        subject = f"【纠正预防单】{sheet.number} 待您{ASKS[sheet.state]}"
    with force_locale("zh_CN"):
        state = sheet.state.label
    body = (f"纠正预防单 {sheet.number}（{sheet.receiving_unit.name}，{sheet.product_name or '—'}"
            f"{'，批号 ' + sheet.batch_no if sheet.batch_no else ''}）：{state}。"
            f"{'说明：' + note + '。' if note else ''}"
            f"时限：{fmt(sheet.due_at) or '无'}。{sheet_link(sheet.number)}")
    return notify_users(people, key_prefix=f"ca:{sheet.id}:{sheet.state.value}:{event_seq}",
                        subject=subject, body=body, case_id=None, channels=CHANNELS)


def _commit(sheet: CorrectiveAction, action: str, actor: User, before: dict, after: dict,
            note: str | None = None) -> CorrectiveAction:
    """Audit, notify and commit as one; a concurrent change becomes a Conflict."""
    try:
        event = audit.record(action, actor=actor, object_type=OBJECT_TYPE, object_id=sheet.id,
                             before=before, after=after, note=note)
        messages = _notify(sheet, event.seq, note)
        messages += webhooks.on_sheet_commit(sheet, action, before, after, event)  # issue 14
        db.session.flush()
        ids = [m.id for m in messages if m.channel != "inapp"]
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        fresh = db.session.get(CorrectiveAction, sheet.id, populate_existing=True)
        raise Conflict(_("纠正预防单 %(number)s 刚刚被他人处理，当前状态为「%(state)s」。请查看最新内容。",
                         number=fresh.number, state=fresh.state.label))
    hand_to_workers(ids)
    return sheet


def _sign(sheet: CorrectiveAction, actor: User, password: str, meaning: SignatureMeaning,
          role: Role, comment: str | None = None):
    return sign(actor, password, meaning=meaning, role=role, object_type=OBJECT_TYPE,
                object_id=sheet.id, content=snapshot(sheet), comment=comment)


SNAPSHOT_FIELDS = (
    "number", "layout", "issued_at", "receiving_unit_id", "batch_no", "product_name",
    "production_date", "nonconformity", "investigation", "whys", "correction", "prevention",
    "owner_id", "due_date", "effective", "verification_evidence", "verified_on", "return_reason",
    "team", "containment", "root_cause_occurrence", "root_cause_escape", "closure_note")


def snapshot(sheet: CorrectiveAction) -> dict:
    """What a signature freezes: every field of the sheet, and the cases it answers."""
    out = {f: jsonable(getattr(sheet, f)) for f in SNAPSHOT_FIELDS}
    out["cases"] = [c.number for c in sheet.cases]
    return out


def _attach(sheet: CorrectiveAction, files: list[StoredFile], actor: User) -> list[dict]:
    rows = []
    for f in files:
        a = Attachment(token=f.token, purpose="ca_evidence", uploaded_by_id=actor.id,
                       original_name=f.original_name, stored_name=f.stored_name,
                       content_type=f.content_type, size=f.size, sha256=f.sha256,
                       width=f.width, height=f.height)
        db.session.add(a)
        sheet.attachments.append(a)
        rows.append({"name": f.original_name, "sha256": f.sha256, "size": f.size})
    return rows


# ---------------------------------------------------------------- quality issues (签发)

class AlreadyIssued(Conflict):
    """The same issue form was sent again: `number` is the sheet it issued."""

    def __init__(self, number: str):
        super().__init__(_("这份纠正预防单已经签发过，编号 %(number)s，请勿重复提交。", number=number))
        self.number = number


def _issued_with(issue_key: str | None) -> str | None:
    if not issue_key:
        return None
    return db.session.execute(sa.select(CorrectiveAction.number).where(
        CorrectiveAction.issue_key == issue_key)).scalar()


def cases_by_number(numbers: list[str], viewer: User) -> list[Case]:
    """The cases named on the form, each one the issuer may see; an unknown one is refused by number."""
    wanted = list(dict.fromkeys(n.strip().upper() for n in numbers if n and n.strip()))
    if not wanted:
        return []
    found = {c.number: c for c in db.session.execute(
        sa.select(Case).where(Case.number.in_(wanted))).unique().scalars()}
    unknown = [n for n in wanted if n not in found or not case_access.can_view(found[n], viewer)]
    if unknown:
        message = _("找不到投诉：%(numbers)s。请检查编号。", numbers=_("、").join(unknown))
        raise ValidationError(message, {"case_numbers": message})
    return [found[n] for n in wanted]


def issue_sheet(actor: User, password: str, *, receiving_unit_id: int | None, nonconformity: str,
                case_numbers: list[str] = (), batch_no: str | None = None,
                cluster_id: int | None = None, layout: Layout = Layout.STANDARD,
                issue_key: str | None = None) -> CorrectiveAction:
    """Quality issues a sheet to the department that made the product (签发, signed), for one
    case, several, or a whole batch; it waits for the department's answer."""
    if not actor.has_role(Role.QUALITY):
        raise PermissionDenied(_("只有品保人员可以签发纠正预防单。"))
    _require({"receiving_unit_id": receiving_unit_id, "nonconformity": nonconformity},
             {"receiving_unit_id": _("接收部门"), "nonconformity": _("不合格描述")})
    unit = db.session.get(OrgUnit, receiving_unit_id)
    if unit is None or not unit.active or unit.kind != UnitKind.DEPARTMENT:
        message = _("请选择接收部门。")
        raise ValidationError(message, {"receiving_unit_id": message.rstrip("。")})
    if not access.people_with(Role.HANDLER, unit.id):
        message = _("「%(unit)s」目前没有在岗的经办人，签发后无人回复。请选择其他部门，或请系统管理员先为该部门设置经办人。",
                    unit=unit.name)
        raise ValidationError(message, {"receiving_unit_id": message})
    if (number := _issued_with(issue_key)) is not None:
        raise AlreadyIssued(number)
    cases = cases_by_number(list(case_numbers), actor)
    batch_no = normalise_batch_no(batch_no) or next((c.batch_no for c in cases if c.batch_no), None)
    if not cases and not batch_no:
        message = _("请填写涉及的投诉编号或生产批号。")
        raise ValidationError(message, {"case_numbers": message})
    batch = find_batch(batch_no)
    first = cases[0] if cases else None
    now = utcnow()
    sheet = CorrectiveAction(
        number=next_number(now), state=SheetState.ISSUED, layout=layout,
        issuing_unit_id=actor.unit_id, issued_by_id=actor.id, issued_at=now,
        receiving_unit_id=unit.id, batch_no=batch_no, batch_id=batch.id if batch else None,
        cluster_id=cluster_id,
        product_id=batch.product_id if batch else (first.product_id if first else None),
        product_name=batch.product.name if batch else (first.product_name if first else None),
        production_date=batch.production_date if batch else (first.production_date if first else None),
        nonconformity=nonconformity, due_at=_due(now, RESPOND_DAYS), issue_key=issue_key)
    sheet.cases = cases
    db.session.add(sheet)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # Two sends of one form at the same moment: the unique key stopped the second.
        db.session.rollback()
        number = _issued_with(issue_key)
        if number is None:
            raise
        raise AlreadyIssued(number) from None
    _sign(sheet, actor, password, SignatureMeaning.ISSUE, Role.QUALITY)
    after = {"number": sheet.number, "receiving_unit": unit.name, "batch_no": batch_no,
             "cases": [c.number for c in cases], "layout": layout, "due_at": sheet.due_at}
    return _commit(sheet, "ca_issued", actor, {}, after, note=nonconformity)


# ---------------------------------------------------------------- the department responds

def clean_whys(whys: list[str | None]) -> list[str]:
    """The 5-Why chain: one to five answers in order, each the reason for the one before,
    so none may be left empty before a later one."""
    texts = [(w or "").strip() for w in whys][:MAX_WHYS]
    while texts and not texts[-1]:
        texts.pop()
    if not texts:
        message = _("请至少回答第一个“为什么”。")
        raise ValidationError(message, {"why_1": message})
    gap = next((i for i, t in enumerate(texts) if not t), None)
    if gap is not None:
        message = _("第 %(n)s 个“为什么”不能空着：每一问回答前一问的原因，请按顺序填写。", n=gap + 1)
        raise ValidationError(message, {f"why_{gap + 1}": message})
    return texts


def respond(sheet: CorrectiveAction, actor: User, version: int, *, investigation: str,
            whys: list[str | None], correction: str, prevention: str, owner_id: int | None,
            due_date: date | None, files: list[StoredFile] = (), eight_d: dict | None = None
            ) -> CorrectiveAction:
    """The receiving department answers: that day's production investigated, the root cause
    by 5-Why, correction, prevention, who owns the measures and by when."""
    _check(sheet, actor, SheetState.RESPONDED, version, _("回复"))
    _require({"investigation": investigation, "correction": correction, "prevention": prevention,
              "owner_id": owner_id, "due_date": due_date},
             {"investigation": _("调查情况"), "correction": _("纠正措施"), "prevention": _("预防措施"),
              "owner_id": _("责任人"), "due_date": _("完成日期")})
    chain = clean_whys(whys)
    owner = db.session.get(User, owner_id)
    if owner is None or not owner.active or owner.unit_id != sheet.receiving_unit_id:
        message = _("责任人须是「%(unit)s」的在岗人员。", unit=sheet.receiving_unit.name)
        raise ValidationError(message, {"owner_id": message})
    if due_date < local(utcnow()).date():
        message = _("完成日期不能早于今天。")
        raise ValidationError(message, {"due_date": message})
    changes = {"investigation": investigation, "whys": chain, "correction": correction,
               "prevention": prevention, "owner_id": owner.id, "due_date": due_date,
               "responded_by_id": actor.id, "responded_at": utcnow(), "state": SheetState.RESPONDED,
               "due_at": _due(utcnow(), APPROVE_DAYS)}
    if sheet.layout == Layout.EIGHT_D:
        changes.update(_eight_d(eight_d or {}))
    before, after = _apply(sheet, changes)
    if files:
        after["files"] = _attach(sheet, list(files), actor)
    return _commit(sheet, "ca_responded", actor, before, after)


def _eight_d(data: dict) -> dict:
    """The 8D layout's own fields: D1 team, D3 containment, D4 both root causes."""
    team = [m for m in data.get("team") or [] if m.get("name")]
    containment = [r for r in data.get("containment") or []
                   if r.get("location") or r.get("action") or r.get("suspect_qty") is not None]
    _require({"team": team, "root_cause_occurrence": data.get("root_cause_occurrence"),
              "root_cause_escape": data.get("root_cause_escape")},
             {"team": _("D1 小组成员"), "root_cause_occurrence": _("D4 发生原因"),
              "root_cause_escape": _("D4 流出原因")})
    for i, row in enumerate(containment, start=1):
        if not row.get("location") or not row.get("action"):
            message = _("D3 第 %(n)s 行请同时填写地点和围堵措施。", n=i)
            raise ValidationError(message, {"containment": message})
    return {"team": team, "containment": containment or None,
            "root_cause_occurrence": data["root_cause_occurrence"],
            "root_cause_escape": data["root_cause_escape"]}


# ---------------------------------------------------------------- the department leader

def approve(sheet: CorrectiveAction, actor: User, version: int, *, password: str,
            comment: str | None = None) -> CorrectiveAction:
    """The receiving department's leader approves the answer (signed); quality verifies next."""
    _check(sheet, actor, SheetState.APPROVED, version, _("批准"))
    _sign(sheet, actor, password, SignatureMeaning.APPROVE, Role.LEADER, comment)
    now = utcnow()
    before, after = _apply(sheet, {"state": SheetState.APPROVED, "approved_at": now,
                                   "due_at": _verify_due(now, sheet.due_date)})
    return _commit(sheet, "ca_approved", actor, before, after, note=comment)


def send_back(sheet: CorrectiveAction, actor: User, version: int, *, password: str,
              comment: str) -> CorrectiveAction:
    """The leader does not accept the answer: back to the department's handlers, signed."""
    _check(sheet, actor, SheetState.RETURNED, version, _("退回"), only_from=SheetState.RESPONDED)
    _require({"comment": comment}, {"comment": _("退回意见")})
    _sign(sheet, actor, password, SignatureMeaning.REJECT, Role.LEADER, comment)
    before, after = _apply(sheet, {"state": SheetState.RETURNED, "return_reason": comment,
                                   "return_count": sheet.return_count + 1,
                                   "due_at": _due(utcnow(), RESPOND_DAYS)})
    return _commit(sheet, "ca_sent_back", actor, before, after, note=comment)


# ---------------------------------------------------------------- quality verifies the effect

def verify(sheet: CorrectiveAction, actor: User, version: int, *, password: str,
           effective: bool | None, evidence: str, verified_on: date | None,
           reason: str | None = None, files: list[StoredFile] = (),
           closure_note: str | None = None) -> CorrectiveAction:
    """Quality verifies the effect (signed): effective closes the sheet; not effective sends
    it back to the department with the reason, to correct again."""
    target = SheetState.CLOSED if effective else SheetState.RETURNED
    _check(sheet, actor, target, version, _("验证"))
    if effective is None:
        message = _("请选择验证结论。")
        raise ValidationError(message, {"effective": message})
    _require({"evidence": evidence, "verified_on": verified_on},
             {"evidence": _("验证依据"), "verified_on": _("验证日期")})
    if not effective:
        _require({"reason": reason}, {"reason": _("退回原因")})
    today = local(utcnow()).date()
    if verified_on > today or (sheet.approved_at and verified_on < local(sheet.approved_at).date()):
        message = _("验证日期须在部门领导批准之后、不晚于今天。")
        raise ValidationError(message, {"verified_on": message})
    now = utcnow()
    changes = {"effective": effective, "verification_evidence": evidence, "verified_on": verified_on,
               "verified_by_id": actor.id, "verified_at": now}
    if sheet.layout == Layout.EIGHT_D and closure_note:
        changes["closure_note"] = closure_note
    if effective:
        changes.update(state=SheetState.CLOSED, closed_at=now, due_at=None)
    else:
        changes.update(state=SheetState.RETURNED, return_reason=reason,
                       return_count=sheet.return_count + 1, due_at=_due(now, RESPOND_DAYS))
    # The signature covers the verdict: set it first, then sign.
    before, after = _apply(sheet, changes)
    _sign(sheet, actor, password, SignatureMeaning.VERIFY, Role.QUALITY,
          comment=None if effective else reason)
    if files:
        after["files"] = _attach(sheet, list(files), actor)
    _commit(sheet, "ca_verified" if effective else "ca_not_effective", actor, before, after,
            note=None if effective else reason)
    if effective:  # closed and frozen: its PDF is made now, so the first download is a file read
        enqueue("default", "jobs.documents.render_ca_sheet", sheet.id, result_ttl=0, failure_ttl=86400)
    return sheet


# ---------------------------------------------------------------- the clock (jobs/capa.py)

def remind_overdue(now: datetime | None = None) -> int:
    """Tell whoever an overdue sheet waits for, and quality who issued it, once per step and
    due time (the outbox key): a sheet left lying is noticed without anybody looking for it.
    Nothing on the sheet changes. Returns how many messages were written."""
    now = now or utcnow()
    sheets = db.session.execute(sa.select(CorrectiveAction).where(
        CorrectiveAction.state.in_(sorted(OPEN_STATES)), CorrectiveAction.due_at < now)
        .order_by(CorrectiveAction.due_at)).scalars().all()
    messages = []
    for sheet in sheets:
        people = {u.id: u for u in [*access.holders(sheet), sheet.issued_by] if u.active}
        with force_locale("zh_CN"):
            state = sheet.state.label
        stamp = int(as_utc(sheet.due_at).timestamp())
        messages += notify_users(
            people.values(), key_prefix=f"ca:{sheet.id}:{sheet.state.value}:overdue:{stamp}",
            subject=f"【纠正预防单】{sheet.number} 已超时：{state}",
            body=(f"纠正预防单 {sheet.number}（{sheet.receiving_unit.name}）{state}，时限 {fmt(sheet.due_at)} "
                  f"已过。{sheet_link(sheet.number)}"),
            case_id=None, channels=CHANNELS, kind="reminder")
    db.session.flush()
    ids = [m.id for m in messages if m.channel != "inapp"]
    db.session.commit()
    hand_to_workers(ids)
    return len(messages)
