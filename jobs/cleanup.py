"""Nightly removal of files nobody will read: uploads staged in a form that never became part
of a case, draft PDFs of records that have changed since, and case-list exports past their day;
and the intake API's expired Idempotency-Key claims and old call log."""
from jobs.context import app


def purge_staged_uploads(max_age_hours: int = 48) -> int:
    with app().app_context():
        from portal.cases.evidence import purge_orphans
        return purge_orphans(max_age_hours)


def purge_draft_pdfs(max_age_hours: int = 48) -> int:
    with app().app_context():
        from portal.pdf_cache import purge_drafts
        return purge_drafts(max_age_hours)


def purge_exports(max_age_hours: int = 24) -> int:
    with app().app_context():
        from portal.reports.export import purge_exports as purge
        return purge(max_age_hours)


def purge_api_records() -> tuple[int, int]:
    with app().app_context():
        from portal.api.housekeeping import purge
        return purge()
