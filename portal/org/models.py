"""Organisation units and users with their roles."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext
from flask_login import UserMixin
from sqlalchemy.orm import relationship
from portal.org.passwords import hash_password, needs_rehash, verify_password

from portal.extensions import db
from portal.models_base import created_column, enum_type
from portal.org.enums import Role, UnitKind


class OrgUnit(db.Model):
    __tablename__ = "org_unit"
    id = sa.Column(sa.Integer, primary_key=True)
    parent_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"), index=True)
    code = sa.Column(sa.String(32), unique=True, nullable=False)
    name = sa.Column(sa.String(100), nullable=False)
    kind = sa.Column(enum_type(UnitKind), nullable=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    created_at = created_column()

    parent = relationship("OrgUnit", remote_side=[id], backref="children")

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code}>"

    def subtree_ids(self) -> list[int]:
        """This unit and every unit below it (the tree is small: tens of units)."""
        units = db.session.execute(sa.select(OrgUnit.id, OrgUnit.parent_id)).all()
        children: dict[int | None, list[int]] = {}
        for uid, pid in units:
            children.setdefault(pid, []).append(uid)
        out, todo = [], [self.id]
        while todo:
            uid = todo.pop()
            out.append(uid)
            todo.extend(children.get(uid, []))
        return out


class UserRole(db.Model):
    __tablename__ = "user_role"
    user_id = sa.Column(sa.Integer, sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    role = sa.Column(enum_type(Role), primary_key=True)


class User(UserMixin, db.Model):
    __tablename__ = "user"
    id = sa.Column(sa.Integer, primary_key=True)
    username = sa.Column(sa.String(64), unique=True, nullable=False)
    name = sa.Column(sa.String(64), nullable=False)
    password_hash = sa.Column(sa.String(256), nullable=False)
    unit_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"), nullable=False, index=True)
    phone = sa.Column(sa.String(32))
    email = sa.Column(sa.String(128))
    title = sa.Column(sa.String(64))
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    locale = sa.Column(sa.String(8))
    # Attachment ids (purpose "signature" / "seal", portal/signing/faces.py); a signature
    # copies them when it is made, so a later change leaves old signatures as signed.
    signature_image_id = sa.Column(sa.Integer)
    seal_image_id = sa.Column(sa.Integer)  # 人名章
    created_at = created_column()

    unit = relationship(OrgUnit, lazy="joined")
    role_rows = relationship(UserRole, lazy="selectin", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    # Flask-Login
    @property
    def is_active(self) -> bool:
        return bool(self.active)

    # Passwords
    def set_password(self, password: str) -> None:
        """A new password; ends the user's other sessions (server-side rows, portal/auth)."""
        self.password_hash = hash_password(password, _hash_method())
        if self.id is not None:
            from portal.auth.session import end_other_sessions
            end_other_sessions(self.id)

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    def upgrade_password_hash(self, password: str) -> bool:
        """After a successful login: re-hash an older format (sessions stay valid)."""
        if needs_rehash(self.password_hash, _hash_method()):
            self.password_hash = hash_password(password, _hash_method())
            return True
        return False

    # Roles
    @property
    def roles(self) -> set[Role]:
        return {r.role for r in self.role_rows}

    @roles.setter
    def roles(self, values) -> None:
        wanted = {Role(v) for v in values}
        self.role_rows = [r for r in self.role_rows if r.role in wanted] + [
            UserRole(role=r) for r in wanted - {r.role for r in self.role_rows}]

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))

    @property
    def role_labels(self) -> str:
        # TRANSLATORS: "、" separates the items of a list of names.
        return gettext("、").join(r.label for r in Role if r in self.roles)

    def branch_id(self) -> int | None:
        """The branch a rep works for: their own unit or the nearest branch above it."""
        unit = self.unit
        while unit is not None:
            if unit.kind == UnitKind.BRANCH:
                return unit.id
            unit = unit.parent
        return None


def _hash_method() -> str:
    from flask import current_app
    return current_app.config.get("PASSWORD_HASH_METHOD", "argon2id")

