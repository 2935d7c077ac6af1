"""Department assessment (考核, PROCEDURES.md §9): the month's table per responsible department
and per person, penalties by the rules quality configures, the bottom three, and the month
frozen and signed by the quality leader so later changes to cases no longer move it.

A case belongs to the month it was received in (Asia/Shanghai) and to its responsible
department and person (the handler who took it up). Malicious complaints and the special
class (complaints for gain) are left out: nobody is assessed for them.
"""
from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import gettext as _
from portal.i18n import force_locale
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import relationship

from portal.cases.enums import Klass, Validity
from portal.cases.models import Case, Category
from portal.cases.states import OPEN_STATES, State
from portal.clock import SHANGHAI, as_utc, local, utcnow
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.escalation.enums import Trigger
from portal.escalation.models import CaseEscalation
from portal.extensions import db
from portal.labels import LabeledEnum, N_
from portal.models_base import created_column, enum_type, utc_column
from portal.org.enums import Role
from portal.org.models import OrgUnit, User
from portal.org.tree import unit_tree
from portal.signing import audit
from portal.signing.enums import SignatureMeaning
from portal.signing.operations import sign

OBJECT_TYPE = "assessment_month"
FORTY_EIGHT_HOURS = timedelta(hours=48)  # the monthly key figure (rollup.FORTY_EIGHT_HOURS)
BOTTOM = 3  # "the bottom three service teams of the month have pay reduced"


class Target(LabeledEnum):
    UNIT = "unit", N_("责任部门")
    PERSON = "person", N_("责任人")


class Basis(LabeledEnum):
    """What a penalty rule counts; the amount is charged once per counted case (once for the
    bottom three)."""
    VALID_CASE = "valid_case", N_("每件成立的投诉")
    NOT_CLOSED_WITHIN = "not_closed_within", N_("每件未在规定小时内结案的投诉")
    OVERDUE = "overdue", N_("每件超过办理时限的投诉")
    BOTTOM_THREE = "bottom_three", N_("月度排名后三名")


class PenaltyRule(db.Model):
    """A configurable penalty (an admin or the quality leader edits them); a frozen month keeps
    the rules it was assessed by in its snapshot."""
    __tablename__ = "penalty_rule"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(60), nullable=False)
    target = sa.Column(enum_type(Target), nullable=False)
    basis = sa.Column(enum_type(Basis), nullable=False)
    hours = sa.Column(sa.Integer)  # NOT_CLOSED_WITHIN
    category_id = sa.Column(sa.Integer, sa.ForeignKey("category.id"))  # only cases of this cause (and below)
    amount = sa.Column(sa.Numeric(10, 2), nullable=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    version = sa.Column(sa.Integer, nullable=False)
    created_at = created_column()

    __mapper_args__ = {"version_id_col": version}

    category = relationship("Category")

    @property
    def description(self) -> str:
        text = self.basis.label
        if self.basis == Basis.NOT_CLOSED_WITHIN:
            text = _("每件未在 %(hours)s 小时内结案的投诉", hours=self.hours)
        if self.category is not None:
            text = _("%(basis)s（限：%(category)s）", basis=text, category=self.category.full_name)
        return text


class AssessmentMonth(db.Model):
    """A frozen month: the table as it was signed (the signature's content is the same snapshot)."""
    __tablename__ = "assessment_month"
    id = sa.Column(sa.Integer, primary_key=True)
    month = sa.Column(sa.Date, nullable=False, unique=True)  # first day of the local month
    snapshot = sa.Column(sa.JSON, nullable=False)
    frozen_at = utc_column(nullable=False)
    frozen_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    signature_id = sa.Column(sa.Integer, sa.ForeignKey("signature.id"))  # set in the freezing transaction

    frozen_by = relationship("User")
    signature = relationship("Signature")


# ---------------------------------------------------------------- months

def parse_month(text: str | None) -> date | None:
    try:
        year, month = (int(p) for p in (text or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return None


def last_month(now: datetime | None = None) -> date:
    today = local(now or utcnow()).date()
    return (date(today.year, today.month, 1) - timedelta(days=1)).replace(day=1)


def month_over(month: date, now: datetime | None = None) -> bool:
    today = local(now or utcnow()).date()
    return month < date(today.year, today.month, 1)


def _bounds(month: date) -> tuple[datetime, datetime]:
    """The local month as UTC instants [start, end)."""
    end = month + timedelta(days=monthrange(month.year, month.month)[1])
    return (datetime(month.year, month.month, 1, tzinfo=SHANGHAI).astimezone(timezone.utc),
            datetime(end.year, end.month, 1, tzinfo=SHANGHAI).astimezone(timezone.utc))


# ---------------------------------------------------------------- the table

COLUMNS = ("id", "responsible_unit_id", "responsible_user_id", "validity", "klass", "category_id", "state",
           "received_at", "closed_at", "due_at")


def excluded(case) -> bool:
    return case.validity == Validity.MALICIOUS or case.klass == Klass.SPECIAL


def _closed_within(case, hours: float) -> bool:
    return (case.state == State.CLOSED and case.closed_at is not None
            and as_utc(case.closed_at) - as_utc(case.received_at) <= timedelta(hours=hours))


def _late_by(case, hours: float, asof: datetime) -> bool:
    """Not closed within `hours` of receipt, as far as can be known at `asof`."""
    if _closed_within(case, hours):
        return False
    return case.state == State.CLOSED or as_utc(asof) - as_utc(case.received_at) > timedelta(hours=hours)


def _category_ids(category_id: int) -> set[int]:
    ids, frontier = {category_id}, [category_id]
    while frontier:
        frontier = list(db.session.execute(sa.select(Category.id).where(Category.parent_id.in_(frontier))).scalars())
        ids.update(frontier)
    return ids


def _counts(cases, overdue_ids: set[int], rules, asof: datetime) -> dict:
    valid = [c for c in cases if c.validity == Validity.VALID]
    n_overdue = sum(1 for c in cases if c.id in overdue_ids)
    closed = sum(1 for c in valid if _closed_within(c, 48))
    row = {"cases": len(cases), "valid": len(valid), "closed_48h": closed, "overdue": n_overdue,
           "rate_48h": round(100 * closed / len(valid), 1) if valid else None,
           "attainment": round(100 * (len(cases) - n_overdue) / len(cases), 1) if cases else None,
           "penalties": []}
    for rule in rules:
        pool = valid if rule["category_ids"] is None else [c for c in valid if c.category_id in rule["category_ids"]]
        if rule["basis"] == Basis.VALID_CASE:
            n = len(pool)
        elif rule["basis"] == Basis.NOT_CLOSED_WITHIN:
            n = sum(1 for c in pool if _late_by(c, rule["hours"], asof))
        elif rule["basis"] == Basis.OVERDUE:
            n = sum(1 for c in cases if c.id in overdue_ids
                    and (rule["category_ids"] is None or c.category_id in rule["category_ids"]))
        else:
            continue  # the bottom three are charged once the ranking is known
        if n:
            row["penalties"].append({"rule": rule["name"], "count": n, "amount": str(rule["amount"] * n)})
    return row


def _total(row: dict) -> None:
    row["penalty"] = str(sum((Decimal(p["amount"]) for p in row["penalties"]), Decimal("0.00")))


def _rank_key(row: dict):
    """Worst first: the lowest 48-hour completion rate, then attainment, then most overdue."""
    return (row["rate_48h"] if row["rate_48h"] is not None else 100.0, row["attainment"], -row["overdue"])


def bottom_units(units: list[dict]) -> set[int]:
    """The bottom three departments among those with valid cases, ties with the third
    included; none when three or fewer are ranked (everyone would be 'bottom')."""
    ranked = sorted((r for r in units if r["valid"]), key=_rank_key)
    if len(ranked) <= BOTTOM:
        return set()
    cut = _rank_key(ranked[BOTTOM - 1])
    return {r["unit_id"] for r in ranked if _rank_key(r) <= cut}


def overdue_case_ids(cases, asof: datetime, in_month) -> set[int]:
    """Cases that passed a time limit: the clock recorded a breach (超过办理时限), or the case
    is still open past its due time at `asof`. `in_month`: the WHERE clauses of the month's cases."""
    late = set(db.session.execute(
        sa.select(CaseEscalation.case_id).distinct().join(Case, Case.id == CaseEscalation.case_id)
        .where(*in_month, CaseEscalation.trigger == Trigger.LIMIT_PASSED)).scalars())
    late.update(c.id for c in cases if c.state in OPEN_STATES and c.due_at is not None
                and as_utc(c.due_at) < as_utc(asof))
    return late


def _rules_in_force() -> list[dict]:
    rows = db.session.execute(sa.select(PenaltyRule).where(PenaltyRule.active.is_(True))
                              .order_by(PenaltyRule.id)).scalars()
    return [{"id": r.id, "name": r.name, "target": r.target, "basis": r.basis, "hours": r.hours,
             "amount": Decimal(r.amount), "description": r.description,
             "category_ids": _category_ids(r.category_id) if r.category_id else None} for r in rows]


def compute(month: date, asof: datetime | None = None) -> dict:
    """The month's table as of `asof` (now): department rows, person rows, the rules used."""
    asof = asof or utcnow()
    start, end = _bounds(month)
    in_month = [Case.received_at >= start, Case.received_at < end, Case.responsible_unit_id.is_not(None)]
    # Only the columns the table reads: a month can be tens of thousands of cases.
    all_cases = db.session.execute(sa.select(*[getattr(Case, name) for name in COLUMNS]).where(*in_month)
                                   .order_by(Case.id)).all()
    cases = [c for c in all_cases if not excluded(c)]
    late = overdue_case_ids(cases, asof, in_month)
    rules = _rules_in_force()
    unit_rules = [r for r in rules if r["target"] == Target.UNIT]
    person_rules = [r for r in rules if r["target"] == Target.PERSON]

    names = dict(db.session.execute(sa.select(OrgUnit.id, OrgUnit.name)).all())
    people = dict(db.session.execute(sa.select(User.id, User.name)).all())
    by_unit: dict[int, list] = {}
    by_person: dict[tuple, list] = {}
    for c in cases:
        by_unit.setdefault(c.responsible_unit_id, []).append(c)
        by_person.setdefault((c.responsible_unit_id, c.responsible_user_id), []).append(c)

    units = [{"unit_id": uid, "unit": names.get(uid, ""), **_counts(cs, late, unit_rules, asof)}
             for uid, cs in by_unit.items()]
    bottom = bottom_units(units)
    for row in units:
        row["bottom"] = row["unit_id"] in bottom
        if row["bottom"]:
            row["penalties"] += [{"rule": r["name"], "count": 1, "amount": str(r["amount"])}
                                 for r in unit_rules if r["basis"] == Basis.BOTTOM_THREE]
        _total(row)
    units.sort(key=lambda r: (_rank_key(r), r["unit"]))
    persons = []
    for (uid, person_id), cs in by_person.items():
        row = {"unit_id": uid, "unit": names.get(uid, ""), "user_id": person_id,
               "person": people.get(person_id, ""), **_counts(cs, late, person_rules, asof)}
        _total(row)
        persons.append(row)
    persons.sort(key=lambda r: (r["unit"], _rank_key(r), r["person"]))
    return {"month": month.strftime("%Y-%m"), "asof": as_utc(asof).isoformat(),
            "excluded": len(all_cases) - len(cases), "units": units, "people": persons,
            "rules": [{"name": r["name"], "target": r["target"].value, "description": r["description"],
                       "amount": str(r["amount"])} for r in rules]}


# The example rules of PROCEDURES.md §9 (the equipment maker's); quality sets its own.
DEFAULT_RULES = [
    ("24小时未结案", Target.PERSON, Basis.NOT_CLOSED_WITHIN, 24, Decimal("2000")),
    ("月度后三名扣减绩效", Target.UNIT, Basis.BOTTOM_THREE, None, Decimal("1000")),
]


def seed_penalty_rules() -> None:
    if db.session.execute(sa.select(PenaltyRule.id)).first():
        return
    for name, target, basis, hours, amount in DEFAULT_RULES:
        db.session.add(PenaltyRule(name=name, target=target, basis=basis, hours=hours, amount=amount, active=True))


# ---------------------------------------------------------------- reading

def frozen(month: date) -> AssessmentMonth | None:
    return db.session.execute(sa.select(AssessmentMonth).where(AssessmentMonth.month == month)).scalar_one_or_none()


def unit_scope(viewer) -> set[int] | None:
    """The departments whose rows `viewer` sees: all for the company-wide roles, else the
    viewer's own units (a department or branch leader), as the case list scopes them."""
    from portal.cases import access
    if access.visible_clause(viewer) is None:
        return None
    return set(unit_tree().subtree(viewer.unit_id))


def table(month: date, viewer) -> dict:
    """The frozen snapshot, or the live table for a month not frozen, as `viewer` may see it."""
    record = frozen(month)
    data = dict(record.snapshot if record else compute(month))
    own = unit_scope(viewer)
    if own is not None:
        data["units"] = [r for r in data["units"] if r["unit_id"] in own]
        data["people"] = [r for r in data["people"] if r["unit_id"] in own]
    data["record"] = record
    return data


# ---------------------------------------------------------------- operations

def is_quality_leader(user) -> bool:
    return user.has_role(Role.QUALITY) and user.has_role(Role.LEADER)


def freeze_month(actor: User, month: date, password: str) -> AssessmentMonth:
    """Freeze a finished month as it stands now and sign it (签字) as the quality leader."""
    if not is_quality_leader(actor):
        raise PermissionDenied(_("只有品保部领导可以冻结并签署月度考核。"))
    if not month_over(month):
        raise ValidationError(_("%(month)s 尚未结束，月末之后才能冻结考核。", month=month.strftime("%Y-%m")))
    if frozen(month) is not None:
        raise Conflict(_("%(month)s 的考核已冻结签署，不能再次冻结。", month=month.strftime("%Y-%m")))
    with force_locale("zh_CN"):  # the signed record reads Chinese whoever froze it
        snapshot = compute(month)
    record = AssessmentMonth(month=month, snapshot={}, frozen_at=utcnow(), frozen_by_id=actor.id)
    try:
        db.session.add(record)
        db.session.flush()  # a second freezer of the same month stops here (month is unique)
    except IntegrityError:
        db.session.rollback()
        raise Conflict(_("%(month)s 的考核已冻结签署，不能再次冻结。", month=month.strftime("%Y-%m"))) from None
    signature = sign(actor, password, meaning=SignatureMeaning.SIGN_OFF, role=Role.QUALITY,
                     object_type=OBJECT_TYPE, object_id=record.id, content=snapshot)
    record.snapshot, record.signature_id = signature.content, signature.id
    audit.record("assessment_frozen", actor=actor, object_type=OBJECT_TYPE, object_id=record.id,
                 after={"month": snapshot["month"], "content_hash": signature.content_hash})
    db.session.commit()
    return record


def may_edit_rules(user) -> bool:
    return user.has_role(Role.ADMIN) or is_quality_leader(user)


def _rule_fields(name, target, basis, hours, category_id, amount) -> dict:
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("请填写规则名称")
    elif len(name) > 60:
        errors["name"] = _("不能超过 60 个字")
    target, basis = Target.get(target), Basis.get(basis)
    if target is None:
        errors["target"] = _("请选择考核对象")
    if basis is None:
        errors["basis"] = _("请选择计罚依据")
    try:
        amount = Decimal(str(amount or "").strip())
        if not amount.is_finite() or amount < 0 or amount >= Decimal("100000000"):
            raise InvalidOperation
        amount = amount.quantize(Decimal("0.01"))
    except InvalidOperation:
        errors["amount"] = _("请填写金额（元，不小于 0）")
    hours_value = None
    if basis == Basis.NOT_CLOSED_WITHIN:
        try:
            hours_value = int(str(hours or "").strip())
            if not 1 <= hours_value <= 24 * 31:
                raise ValueError
        except ValueError:
            errors["hours"] = _("请填写 1–744 之间的小时数")
    if basis == Basis.BOTTOM_THREE and target == Target.PERSON:
        errors["target"] = _("后三名按部门排名，只能罚责任部门")
    category = None
    if str(category_id or "").isdigit():
        category = db.session.get(Category, int(category_id))
        if category is None:
            errors["category_id"] = _("没有这个原因类别")
    if basis == Basis.BOTTOM_THREE and category is not None:
        errors["category_id"] = _("后三名不按原因类别计")
    if errors:
        raise ValidationError(_("规则未保存：%(text)s", text="；".join(errors.values())), errors)
    return {"name": name, "target": target, "basis": basis, "hours": hours_value,
            "category_id": category.id if category else None, "amount": amount}


def _rule_audit(rule: PenaltyRule) -> dict:
    return {"name": rule.name, "target": rule.target, "basis": rule.basis, "hours": rule.hours,
            "category_id": rule.category_id, "amount": str(rule.amount), "active": rule.active}


def add_rule(actor: User, **fields) -> PenaltyRule:
    if not may_edit_rules(actor):
        raise PermissionDenied(_("只有系统管理员或品保部领导可以修改考核规则。"))
    rule = PenaltyRule(**_rule_fields(**fields), active=True)
    db.session.add(rule)
    db.session.flush()
    audit.record("penalty_rule_added", actor=actor, object_type="penalty_rule", object_id=rule.id,
                 after=_rule_audit(rule))
    db.session.commit()
    return rule


def update_rule(actor: User, rule: PenaltyRule, version: int | None, *, active: bool, **fields) -> PenaltyRule:
    if not may_edit_rules(actor):
        raise PermissionDenied(_("只有系统管理员或品保部领导可以修改考核规则。"))
    if version != rule.version:
        raise Conflict(_("这条规则刚被别人修改过，请看过最新内容后再保存。"))
    before = _rule_audit(rule)
    for key, value in _rule_fields(**fields).items():
        setattr(rule, key, value)
    rule.active = bool(active)
    audit.record("penalty_rule_changed", actor=actor, object_type="penalty_rule", object_id=rule.id,
                 before=before, after=_rule_audit(rule))
    db.session.commit()
    return rule


# ---------------------------------------------------------------- export

HEADER = [N_("部门"), N_("责任人"), N_("投诉件数"), N_("成立件数"), N_("48小时内结案"), N_("48小时结案率"),
          N_("超时限件数"), N_("时限达成率"), N_("罚款（元）"), N_("后三名")]


def export_header() -> list[str]:
    return [_(h) for h in HEADER]


def export_rows(data: dict):
    """Department rows, then each person (责任人) under the departments: the export's lines."""
    def line(r, person):
        return [r["unit"], person, r["cases"], r["valid"], r["closed_48h"],
                "" if r["rate_48h"] is None else r["rate_48h"], r["overdue"],
                "" if r["attainment"] is None else r["attainment"], r["penalty"],
                _("是") if r.get("bottom") else ""]
    for r in data["units"]:
        yield line(r, _("（部门合计）"))
    for r in data["people"]:
        yield line(r, r["person"] or _("（未指定）"))


# ---------------------------------------------------------------- the month's PDF

def month_pdf_path(month: date, viewer):
    """The cached PDF of the month's table as `viewer` sees it: 草稿 until frozen; a frozen
    month's file is named by its signature and rendered once per view."""
    from flask import current_app

    from portal.clock import fmt
    from portal.jsonutil import sha256_of
    from portal.pdf_cache import cached_pdf
    from portal.signing import faces

    with force_locale("zh_CN"):  # the sheet is Chinese whatever the reader's language, as the others
        data = table(month, viewer)
    record = data.pop("record")
    view = sha256_of(sorted(r["unit_id"] for r in data["units"]))[:8]

    def context() -> dict:
        made = {"company_name": current_app.config["COMPANY_NAME"], "draft": record is None, **data}
        if record is not None:
            s = record.signature
            image, seal = faces.face_paths(s)
            with force_locale("zh_CN"):
                made["signature"] = {"printed_name": s.printed_name, "meaning": s.meaning.label,
                                     "role": f"{s.unit_name or ''} {s.role.label}".strip(),
                                     "signed_at": fmt(s.signed_at, True), "content_hash": s.content_hash,
                                     "image_path": str(image) if image else None,
                                     "seal_path": str(seal) if seal else None}
        made["asof"] = fmt(datetime.fromisoformat(data["asof"]))
        return made

    # A live month changes only with its figures, not with the moment it was computed.
    key = sha256_of([record.signature_id, record.signature.content_hash] if record else
                    {k: v for k, v in data.items() if k != "asof"})[:16]
    return cached_pdf("assessment", context, folder="assessment",
                      stem=f"{data['month']}-{view}" + ("" if record else "-draft"), key=key)
