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
        return super().work(*args, **kwargs)
