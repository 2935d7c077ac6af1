"""Thumbnails and previews of newly stored photos, made off the request."""
from jobs.context import app


def make_renditions(case_id: int) -> int:
    with app().app_context():
        from portal.cases.evidence import ensure_renditions
        from portal.cases.models import Case
        from portal.extensions import db
        case = db.session.get(Case, case_id)
        if case is None:
            return 0
        return sum(ensure_renditions(a.token, a.stored_name) for a in case.photos)
