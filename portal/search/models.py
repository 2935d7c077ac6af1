"""The search index: one row per (term, case) — see portal/search/index.py for the terms."""
import sqlalchemy as sa

from portal.extensions import db

TERM_LEN = 20  # Latin words and numbers are kept up to this length (queries are cut alike)


class CaseTerm(db.Model):
    """The primary key is the index: `term = ?` gives the case ids in order, and PostgreSQL
    can also probe it per case while walking the list's received-time index (common words)."""
    __tablename__ = "case_term"
    term = sa.Column(sa.String(TERM_LEN), primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id", ondelete="CASCADE"), primary_key=True)
