"""Case numbers KS<year>-<6 digits>: unique, ordered and gap-free per year.

The counter row is updated inside the intake transaction: concurrent intakes queue on its
row lock (PostgreSQL) or the write lock (SQLite), and a rolled-back intake gives its
number back, so no number is skipped.
"""
from portal.cases.models import CaseCounter
from portal.clock import SHANGHAI, utcnow
from portal.extensions import db


def next_number(now=None) -> str:
    year = (now or utcnow()).astimezone(SHANGHAI).year
    table = CaseCounter.__table__
    session = db.session
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # One statement: the year's first number makes its row, every later one counts on.
    last = session.execute(
        insert(table).values(year=year, last=1)
        .on_conflict_do_update(index_elements=[table.c.year], set_={"last": table.c.last + 1})
        .returning(table.c.last)).scalar_one()
    return f"KS{year}-{last:06d}"
