"""Render a closed case's sign-off sheet ahead of the first download."""
from jobs.context import app


def render_case_signoff(case_id: int) -> list[str]:
    with app().app_context():
        from portal.cases.documents import prerender_signoff
        from portal.cases.models import Case
        from portal.extensions import db
        case = db.session.get(Case, case_id)
        return [str(p) for p in prerender_signoff(case)] if case else []
