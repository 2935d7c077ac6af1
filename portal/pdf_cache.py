"""PDF files cached by what they print: equal content is rendered once.

Kept apart from portal.pdf so that a web process serving a file already made never
imports WeasyPrint (about a second of Pango and Cairo start-up).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from flask import current_app

from portal.clock import fmt, utcnow
from portal.jsonutil import sha256_of


DRAFT = "-draft-"  # in the name of every draft's file, which purge_drafts removes when old


def cached_pdf(document: str, make_context: Callable[[], dict], *, folder: str, stem: str,
               key: str | None = None, draft: bool = False) -> Path:
    """The PDF under PDF_CACHE_DIR/<folder>/<stem>-<key>.pdf (<stem>-draft-<key>.pdf for a
    draft), rendered from make_context() if missing.

    Without a key the file is named by the hash of the context, so the context is built
    on every call; a caller that knows what a frozen record holds (its signatures) passes
    that as the key, and a download of a file already made builds nothing. The context's
    own hash is printed in the footer ("content_hash"), taken before the render time is added.
    """
    cache = Path(current_app.config["PDF_CACHE_DIR"]) / folder
    context = None
    if key is None:
        context = make_context()
        key = sha256_of(context)[:16]
    path = cache / f"{stem}{DRAFT if draft else '-'}{key}.pdf"
    if path.exists():
        return path
    if context is None:
        context = make_context()
    context["content_hash"] = sha256_of(context)
    context["generated_at"] = fmt(utcnow())
    from portal.pdf import render_pdf
    data = render_pdf(document, context, allowed_roots=[current_app.config["UPLOAD_DIR"]])
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def purge_drafts(max_age_hours: int = 48) -> int:
    """Delete draft PDFs and half-written renders older than the limit (jobs/cleanup.py).

    Each change of an unsigned record leaves a draft named by its old content, never read
    again; a draft still wanted is rendered anew at its next download. Final files stay:
    they are the record as signed, and their names are what a download looks for.
    """
    root = Path(current_app.config["PDF_CACHE_DIR"])
    cutoff = time.time() - max_age_hours * 3600
    removed = 0
    for path in [*root.glob(f"*/*{DRAFT}*.pdf"), *root.glob("*/*.part")]:
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
