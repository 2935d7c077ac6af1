"""One app per worker process, reused by every job it runs."""
from __future__ import annotations

_app = None


def app():
    global _app
    if _app is None:
        from portal import create_app
        _app = create_app()
    return _app
