"""The portal's RQ worker: builds the app once, before it forks a work-horse per job.

`rq worker --worker-class jobs.worker.PortalWorker notify default`
"""
from rq import Worker

from jobs.context import app


class PortalWorker(Worker):
    def work(self, *args, **kwargs):
        # Every job runs in a forked child; building the app here (no DB connection is
        # opened yet) saves each job the ~0.6 s of create_app().
        app()
        _warm_pdf_fonts()
        return super().work(*args, **kwargs)


def _warm_pdf_fonts() -> None:
    """Load WeasyPrint and the CJK fonts once in the parent, so a forked job renders warm."""
    try:
        from portal.pdf import render_pdf
        render_pdf("case_signoff", {"company_name": "", "case": {}, "photos": [], "timeline": [],
                                    "signatures": []})
    except Exception:  # noqa: BLE001 - a cold first PDF is slower, not wrong
        pass
