"""Customer phones as digits and reversed digits, so a search by the last digits (or a
landline typed with a dash) uses an index; filled for the cases already registered.

Revision ID: e4a6c8d0f2b3
Revises: c3d5e7f9a1b2
Create Date: 2026-12-01 22:00:00
"""
import unicodedata

from alembic import op
import sqlalchemy as sa

revision = 'e4a6c8d0f2b3'
down_revision = 'c3d5e7f9a1b2'
branch_labels = None
depends_on = None

BATCH = 5000


def _digits(phone):
    # Frozen copy of portal.cases.models.phone_digits as of this revision: a migration must
    # do the same thing however the application changes later.
    text = unicodedata.normalize("NFKC", phone or "").strip()
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    if text.startswith("+86"):
        return digits[2:]
    if text.startswith("0086"):
        return digits[4:]
    return digits


# Plain ALTERs, no batch mode: SQLite (3.35+) adds and drops these columns and indexes
# in place, whereas batch mode would copy and drop the whole "case" table, which its
# foreign keys (audit events, attachments, …) refuse once cases exist.

def upgrade():
    op.add_column('case', sa.Column('customer_phone_digits', sa.String(length=32), nullable=True))
    op.add_column('case', sa.Column('customer_phone_rev', sa.String(length=32), nullable=True))

    conn = op.get_bind()
    case = sa.table('case', sa.column('id', sa.Integer), sa.column('customer_phone', sa.String),
                    sa.column('customer_phone_digits', sa.String), sa.column('customer_phone_rev', sa.String))
    if conn.dialect.name == 'postgresql':
        # One statement: a million rows in seconds rather than a Python loop over them.
        # (Full-width digits come only from the web form, which stores what phone_digits
        # makes of them from now on; existing rows were typed on keyboards with ASCII digits.)
        conn.execute(sa.text(r"""
            UPDATE "case" SET customer_phone_digits = CASE
                WHEN btrim(customer_phone) LIKE '+86%' THEN substr(regexp_replace(customer_phone, '\D', '', 'g'), 3)
                WHEN btrim(customer_phone) LIKE '0086%' THEN substr(regexp_replace(customer_phone, '\D', '', 'g'), 5)
                ELSE regexp_replace(customer_phone, '\D', '', 'g') END"""))
        conn.execute(sa.text("""UPDATE "case" SET customer_phone_rev = NULLIF(reverse(customer_phone_digits), '')"""))
    else:
        last = 0
        while True:
            rows = conn.execute(sa.select(case.c.id, case.c.customer_phone).where(case.c.id > last)
                                .order_by(case.c.id).limit(BATCH)).all()
            if not rows:
                break
            values = [{"k": r.id, "d": _digits(r.customer_phone)} for r in rows]
            conn.execute(case.update().where(case.c.id == sa.bindparam("k")).values(
                customer_phone_digits=sa.bindparam("d"), customer_phone_rev=sa.bindparam("r")),
                [{**v, "r": v["d"][::-1] or None} for v in values])
            last = rows[-1].id

    op.drop_index('ix_case_customer_phone', table_name='case')
    op.create_index('ix_case_phone_rev', 'case', ['customer_phone_rev'], unique=False)


def downgrade():
    op.drop_index('ix_case_phone_rev', table_name='case')
    op.create_index('ix_case_customer_phone', 'case', ['customer_phone'], unique=False)
    op.drop_column('case', 'customer_phone_rev')
    op.drop_column('case', 'customer_phone_digits')
