"""Sheet numbers CA<year>-<4 digits>: gap-free per year, as case numbers are (cases/numbering)."""
import sqlalchemy as sa

from portal.capa.models import SheetCounter
from portal.clock import SHANGHAI, utcnow
from portal.extensions import db


def next_number(now=None) -> str:
    """Taken inside the issuing transaction: concurrent issues queue on the counter row, and a
    rolled-back issue gives its number back."""
    year = (now or utcnow()).astimezone(SHANGHAI).year
    table = SheetCounter.__table__
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(table).values(year=year, last=0).on_conflict_do_nothing())
    last = session.execute(
        sa.update(table).where(table.c.year == year).values(last=table.c.last + 1)
        .returning(table.c.last)).scalar_one()
    return f"CA{year}-{last:04d}"
