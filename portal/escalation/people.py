"""Who holds a step and who leads a unit, from the one audience rule (portal/cases/audience.py).

Until that module is in the tree the operations' own step_actors / _unit_leaders answer
(TEMPORARY: removed once portal.cases.audience lands)."""
from __future__ import annotations


def holders(case) -> list:
    try:
        from portal.cases import audience
    except ImportError:  # pragma: no cover - the shim
        from portal.cases.operations import step_actors
        return [u for u in step_actors(case) if u is not None]
    return [u for u in audience.holders(case) if u is not None]


def leaders_of(unit_id: int | None) -> list:
    if unit_id is None:
        return []
    try:
        from portal.cases import audience
    except ImportError:  # pragma: no cover - the shim
        from portal.cases.operations import _unit_leaders
        return _unit_leaders(unit_id)
    return audience.leaders_of(unit_id)
