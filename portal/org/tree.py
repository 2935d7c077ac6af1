"""The unit tree, loaded once per request (tens of rows) for scoping and pickers."""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, has_app_context

from portal.extensions import db
from portal.org.models import OrgUnit


class UnitTree:
    def __init__(self, rows):
        self.units = {u.id: u for u in rows}
        self.children: dict[int | None, list[int]] = {}
        for u in rows:
            self.children.setdefault(u.parent_id, []).append(u.id)

    def subtree(self, unit_id: int | None) -> set[int]:
        out, todo = set(), [unit_id] if unit_id is not None else []
        while todo:
            uid = todo.pop()
            out.add(uid)
            todo.extend(self.children.get(uid, []))
        return out

    def contains(self, ancestor_id: int, unit_id: int | None) -> bool:
        while unit_id is not None:
            if unit_id == ancestor_id:
                return True
            unit = self.units.get(unit_id)
            unit_id = unit.parent_id if unit else None
        return False

    def ordered(self, kind=None, active_only=True) -> list[OrgUnit]:
        """Depth-first order for pickers, with depth for indentation."""
        out = []

        def walk(pid, depth):
            for uid in sorted(self.children.get(pid, []), key=lambda i: self.units[i].code):
                u = self.units[uid]
                if (not active_only or u.active) and (kind is None or u.kind == kind):
                    out.append((u, depth))
                walk(uid, depth + 1)
        walk(None, 0)
        return out


def unit_tree() -> UnitTree:
    if has_app_context() and "unit_tree" in g:
        return g.unit_tree
    tree = UnitTree(db.session.execute(sa.select(OrgUnit)).scalars().all())
    if has_app_context():
        g.unit_tree = tree
    return tree
