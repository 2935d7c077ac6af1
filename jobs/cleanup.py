"""Remove uploads that were staged in a form but never became part of a case."""
from jobs.context import app


def purge_staged_uploads(max_age_hours: int = 48) -> int:
    with app().app_context():
        from portal.cases.evidence import purge_orphans
        return purge_orphans(max_age_hours)
