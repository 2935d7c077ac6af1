"""PDF files cached by the hash of what they print: equal content is rendered once.

Kept apart from portal.pdf so that a web process serving a file already made never
imports WeasyPrint (about a second of Pango and Cairo start-up).
"""
from __future__ import annotations

import os
from pathlib import Path

from flask import current_app

from portal.clock import fmt, utcnow
from portal.jsonutil import sha256_of


def cached_pdf(document: str, context: dict, *, folder: str, stem: str) -> Path:
    """The PDF of `context` under PDF_CACHE_DIR/<folder>/<stem>-<hash>.pdf, rendered if missing.

    The hash is taken before the render time is added, so a later download of the same
    content finds the same file; context gains "content_hash" (printed in the footer).
    """
    digest = sha256_of(context)
    context["content_hash"] = digest
    cache = Path(current_app.config["PDF_CACHE_DIR"]) / folder
    path = cache / f"{stem}-{digest[:16]}.pdf"
    if not path.exists():
        from portal.pdf import render_pdf
        context["generated_at"] = fmt(utcnow())
        data = render_pdf(document, context, allowed_roots=[current_app.config["UPLOAD_DIR"]])
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path
