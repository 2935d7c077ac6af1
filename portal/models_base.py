"""Column helpers shared by the domain models."""
import sqlalchemy as sa

from portal.clock import utcnow


def enum_type(enum_cls, length: int = 32) -> sa.Enum:
    """A string column holding the enum's value (no native DB enum, so adding a member needs no DDL)."""
    return sa.Enum(enum_cls, native_enum=False, create_constraint=False, length=length,
                   values_callable=lambda e: [m.value for m in e])


def utc_column(**kw) -> sa.Column:
    return sa.Column(sa.DateTime(timezone=True), **kw)


def created_column() -> sa.Column:
    return sa.Column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
