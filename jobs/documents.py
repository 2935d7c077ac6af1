"""Render a closed case's sign-off sheet, and a closed corrective-action sheet, ahead of the
first download."""
from jobs.context import app


def render_case_signoff(case_id: int) -> list[str]:
    with app().app_context():
        from portal.cases.documents import prerender_signoff
        from portal.cases.models import Case
        from portal.extensions import db
        case = db.session.get(Case, case_id)
        return [str(p) for p in prerender_signoff(case)] if case else []


def render_ca_sheet(sheet_id: int) -> list[str]:
    with app().app_context():
        from portal.capa.document import prerender_sheet
        from portal.capa.models import CorrectiveAction
        from portal.extensions import db
        sheet = db.session.get(CorrectiveAction, sheet_id)
        return [str(p) for p in prerender_sheet(sheet)] if sheet else []
