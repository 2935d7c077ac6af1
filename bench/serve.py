"""WSGI factory for gunicorn in the latency benches: the portal wrapped in a thin middleware that adds `Server-Timing: app;dur=<ms>` (time inside the WSGI app,
upload reading included) and answers /healthz-bench for start-up checks.

    gunicorn --pythonpath bench 'serve:portal_app()'
"""
from __future__ import annotations

import time


class ServerTiming:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/healthz-bench":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        t0, c0 = time.perf_counter(), time.thread_time()

        def timed_start_response(status, headers, exc_info=None):
            # app: wall time in the application; cpu: this worker thread's CPU time in it
            # (robust to other load on the machine; excludes PostgreSQL's own CPU).
            headers.append(("Server-Timing", f"app;dur={(time.perf_counter() - t0) * 1000:.2f}, "
                                             f"cpu;dur={(time.thread_time() - c0) * 1000:.2f}"))
            return start_response(status, headers, exc_info)

        return self.app(environ, timed_start_response)


def portal_app():
    from portal import create_app
    return ServerTiming(create_app())

