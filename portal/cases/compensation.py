"""Does a proposed remedy stay within the proposer's authority (PROCEDURES.md §7)?"""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from portal.cases.models import CompensationRule
from portal.enums import Klass
from portal.extensions import db

ALWAYS_TO_LEADER = {Klass.MAJOR, Klass.SERIOUS}


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


def approval_reasons(case, *, multiple: Decimal | None, cash: Decimal | None) -> list[str]:
    """Why a leader must approve (empty: the handler's proposal goes straight to implementation)."""
    reasons = []
    if case.klass in ALWAYS_TO_LEADER:
        reasons.append(f"{case.klass.label}类投诉须经部门领导批示")
    if case.threatens_media:
        reasons.append("顾客声称将向职能部门或媒体反映，须经领导决定")
    rule = rule_for(case.klass, case.category)
    if rule is not None:
        if rule.always_needs_approval and case.klass not in ALWAYS_TO_LEADER:
            reasons.append(f"{case.klass.label}类：规则要求领导批示")
        if multiple and rule.max_multiple is not None and multiple > rule.max_multiple:
            reasons.append(f"产品赔偿倍数 1:{multiple.normalize():f} 超过{case.klass.label}类上限 "
                           f"1:{rule.max_multiple.normalize():f}")
        if cash and (rule.max_cash is None or cash > rule.max_cash):
            limit = f"{rule.max_cash:.0f} 元" if rule.max_cash is not None else "不允许现金"
            reasons.append(f"现金补偿 {cash:.2f} 元超过{case.klass.label}类权限（{limit}）")
    elif multiple or cash:
        reasons.append("没有适用的补偿规则，须经领导批示")
    return reasons
