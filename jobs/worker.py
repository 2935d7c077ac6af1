"""The portal's RQ worker: builds the app once, before it forks a work-horse per job.

`rq worker --worker-class jobs.worker.PortalWorker notify default`
"""
import os
import signal
import threading
import time

from rq import Worker

from jobs.context import app


class PortalWorker(Worker):
    def work(self, *args, **kwargs):
        runner = int(os.environ.get("PORTAL_RUNNER_PID") or 0)
        if runner and runner == os.getppid():
            threading.Thread(target=self._stop_when_orphaned, args=(runner,), daemon=True,
                             name="runner-watch").start()
        # Every job runs in a forked child; building the app here (no DB connection is
        # opened yet) saves each job the ~0.6 s of create_app().
        portal = app()
        _warm_pdf_fonts()
        _warm_delivery(portal)
        from portal.notify.checks import warn_if_smtp_unreachable
        warn_if_smtp_unreachable(portal.config)  # reported, not refused: the outbox retries
        return super().work(*args, **kwargs)

    def _stop_when_orphaned(self, runner: int) -> None:
        """Under `make run`: once the runner is gone (even killed by SIGKILL), end the running
        job and stop, so no work-horse outlives the portal. Polled, not signalled: the
        runner's parent-death SIGTERM may reach another thread while the main thread waits
        for the work-horse, and then nothing would happen until the job ends."""
        while os.getppid() == runner:
            time.sleep(0.5)
        if self.horse_pid:
            self.kill_horse()  # the job is marked failed
        os.kill(os.getpid(), signal.SIGTERM)  # then stop as on Ctrl-C


def _warm_delivery(portal) -> None:
    """Import the delivery jobs and compile the mail templates once, before the forks."""
    try:
        import jobs.deliver  # noqa: F401
        from portal.notify.delivery import warm
        with portal.app_context():
            warm()
    except Exception:  # noqa: BLE001 - a cold first mail is slower, not wrong
        pass


def _warm_pdf_fonts() -> None:
    """Load WeasyPrint and the CJK fonts once in the parent, so a forked job renders warm."""
    try:
        from portal.pdf import render_pdf
        render_pdf("case_signoff", {"company_name": "", "case": {}, "photos": [], "timeline": [],
                                    "signatures": []})
    except Exception:  # noqa: BLE001 - a cold first PDF is slower, not wrong
        pass
