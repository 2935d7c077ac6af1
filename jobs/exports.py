"""Big case-list exports, written to a file off the request (portal.reports.export)."""
from jobs.context import app


def run_export(token: str) -> str:
    with app().app_context():
        from portal.reports.export import run_export as run
        return run(token)
