"""Does a remedy stay within the proposer's authority (PROCEDURES.md §7), and if not, whose
leader decides and why.

The reasons are stored as codes with parameters, not sentences, so that a page shows them in
its reader's language and a report can count them (which rule sends most cases upstairs).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext

from portal.cases.enums import Klass
from portal.cases.models import Approver, CompensationRule
from portal.extensions import db
from portal.labels import N_
from portal.org.enums import UnitKind
from portal.org.tree import unit_tree

ALWAYS_TO_LEADER = {Klass.MAJOR, Klass.SERIOUS}


# Reason code → its sentence (a Chinese msgid). `klass` parameters hold the class's value
# and are shown as its label; amounts are stored already formatted.
REASONS: dict[str, str] = {
    "class_needs_leader": N_("%(klass)s类投诉须经领导批示"),
    "media_threat": N_("顾客声称将向职能部门或媒体反映，须报公司领导决定"),
    "rule_needs_leader": N_("%(klass)s类：规则要求领导批示"),
    "multiple_over_limit": N_("产品赔偿倍数 1:%(multiple)s 超过%(klass)s类上限 1:%(limit)s"),
    "cash_over_limit": N_("现金补偿 %(cash)s 元超过%(klass)s类权限（%(limit)s 元）"),
    "cash_not_allowed": N_("现金补偿 %(cash)s 元超过%(klass)s类权限（不允许现金）"),
    "no_rule": N_("没有适用的补偿规则，须经领导批示"),
}


@dataclass
class Assessment:
    """Empty `reasons`: within the proposer's authority; else the approver level decides."""
    reasons: list[dict] = field(default_factory=list)
    approver: Approver | None = None


def rule_for(klass: Klass | None, category) -> CompensationRule | None:
    """The rule for the class and the most specific matching cause category."""
    if klass is None:
        return None
    rules = db.session.execute(
        sa.select(CompensationRule).where(CompensationRule.klass == klass)).scalars().all()
    cat_ids = []
    while category is not None:
        cat_ids.append(category.id)
        category = category.parent
    for cid in cat_ids:
        for r in rules:
            if r.category_id == cid:
                return r
    return next((r for r in rules if r.category_id is None), None)


def _amount(value: Decimal) -> str:
    return f"{value.normalize():f}"


def assess(klass: Klass | None, category, *, threatens_media: bool,
           multiple: Decimal | None, cash: Decimal | None) -> Assessment:
    """Why a leader must decide, and which leader: the rule's, or headquarters' for a
    customer threatening a regulator or the media (§7)."""
    reasons: list[dict] = []

    def add(code: str, **params) -> None:
        reasons.append({"code": code, "params": params})

    k = klass.value if klass else ""
    if klass in ALWAYS_TO_LEADER:
        add("class_needs_leader", klass=k)
    if threatens_media:
        add("media_threat")
    rule = rule_for(klass, category)
    if rule is not None:
        if rule.always_needs_approval and klass not in ALWAYS_TO_LEADER:
            add("rule_needs_leader", klass=k)
        if multiple and rule.max_multiple is not None and multiple > rule.max_multiple:
            add("multiple_over_limit", klass=k, multiple=_amount(multiple), limit=_amount(rule.max_multiple))
        if cash and rule.max_cash is None:
            add("cash_not_allowed", klass=k, cash=f"{cash:.2f}")
        elif cash and cash > rule.max_cash:
            add("cash_over_limit", klass=k, cash=f"{cash:.2f}", limit=f"{rule.max_cash:.0f}")
    elif multiple or cash:
        add("no_rule")
    if not reasons:
        return Assessment()
    company = threatens_media or (rule is not None and rule.approver == Approver.COMPANY)
    return Assessment(reasons, Approver.COMPANY if company else Approver.DEPARTMENT)


def assess_case(case, *, multiple: Decimal | None, cash: Decimal | None) -> Assessment:
    return assess(case.klass, case.category, threatens_media=case.threatens_media,
                  multiple=multiple, cash=cash)


def approval_unit_id(case, approver: Approver) -> int | None:
    """The unit whose leaders decide: the responsible department, or the company above it."""
    if approver != Approver.COMPANY:
        return case.responsible_unit_id
    tree = unit_tree()
    unit = tree.units.get(case.responsible_unit_id or case.branch_id)
    top = unit
    while unit is not None:
        if unit.kind == UnitKind.COMPANY:
            return unit.id
        top = unit
        unit = tree.units.get(unit.parent_id)
    return top.id if top is not None else None


def reason_text(reason) -> str:
    """A stored reason in the current language; old rows (Chinese sentences) as written."""
    if isinstance(reason, str):
        return reason
    code = (reason or {}).get("code")
    if code not in REASONS:
        return str(code or "")
    params = dict(reason.get("params") or {})
    if "klass" in params:
        klass = Klass.get(params["klass"])
        params["klass"] = klass.label if klass else params["klass"]
    try:
        return gettext(REASONS[code], **params)
    except (KeyError, TypeError, ValueError):  # a row edited by hand: show the code, never a 500
        return str(code)


def reason_texts(reasons) -> list[str]:
    return [reason_text(r) for r in reasons or []]


def decided_by(case) -> str | None:
    """Who the approval step waits for, in words: 由公司领导批示 / 由生产一部领导批示 — the unit
    whose leaders the step really waits for (audience.py: a department without a leader of
    its own sends its decisions up)."""
    from portal.cases import audience
    from portal.cases.states import Step
    if case.step != Step.APPROVE or case.step_unit_id is None:
        return None
    unit = unit_tree().units.get(audience.leader_unit_of(case.step_unit_id) or case.step_unit_id)
    if unit is None:
        return None
    if unit.kind == UnitKind.COMPANY:
        return gettext("由公司领导批示")
    return gettext("由%(unit)s领导批示", unit=unit.name)
