"""Spreadsheet imports of the product and batch register, checked and written off the request."""
from jobs.context import app


def run_import(job_id: int, locale: str = "zh_CN") -> str | None:
    with app().app_context():
        from portal.catalog.importing import run_import as run
        status = run(job_id, locale)
        return status.value if status else None
