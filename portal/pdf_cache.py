"""PDF files cached by what they print: equal content is rendered once.

Kept apart from portal.pdf so that a web process serving a file already made never
imports WeasyPrint (about a second of Pango and Cairo start-up).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from flask import current_app

from portal.clock import fmt, utcnow
from portal.jsonutil import sha256_of


def cached_pdf(document: str, make_context: Callable[[], dict], *, folder: str, stem: str,
               key: str | None = None) -> Path:
    """The PDF under PDF_CACHE_DIR/<folder>/<stem>-<key>.pdf, rendered from make_context() if missing.

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
    path = cache / f"{stem}-{key}.pdf"
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
