"""GET /api/docs/ (the page) and the receiver snippets as plain files to download."""
from __future__ import annotations

from flask import Response, abort, render_template

from portal.apidocs import bp, page

DOWNLOADS = {"receiver.py": "text/x-python; charset=utf-8", "receiver.js": "text/javascript; charset=utf-8"}


@bp.get("/")
def index():
    from portal.api.openapi import document
    return render_template("apidocs/index.html", **page.context(document()))


@bp.get("/<name>")
def download(name: str):
    if name not in DOWNLOADS:
        abort(404)
    return Response(page.snippet(name), mimetype=DOWNLOADS[name].split(";")[0],
                    headers={"Content-Type": DOWNLOADS[name],
                             "Content-Disposition": f'attachment; filename="{name}"'})
