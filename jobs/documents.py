"""Render a closed case's sign-off sheet ahead of the first download."""
from jobs.context import app


def render_case_signoff(case_id: int) -> str | None:
    with app().app_context():
        from portal.cases.documents import signoff_pdf_path
        from portal.cases.models import Case
        from portal.extensions import db
        case = db.session.get(Case, case_id)
        path = signoff_pdf_path(case) if case else None
        return str(path) if path else None
