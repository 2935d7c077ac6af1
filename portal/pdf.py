"""Render the signed paper trail (today the case sign-off sheet) from pdf_templates/<document>/ to PDF.
Nothing is loaded from the network: only files under pdf_templates/ and the roots the caller names.
"""

from __future__ import annotations

import functools
import hashlib
import json
import mimetypes
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from jinja2 import Environment, FileSystemLoader, select_autoescape
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse
from PIL import ImageFile

# WeasyPrint turns on Pillow's "load truncated images" for the whole process when imported;
# the evidence checks rely on truncated uploads failing, and our PDFs embed only our own
# thumbnails, so put the default back.
ImageFile.LOAD_TRUNCATED_IMAGES = False

PDF_TEMPLATES = Path(__file__).resolve().parent.parent / "pdf_templates"
FONTS_CSS = PDF_TEMPLATES / "fonts" / "fonts.css"
# What every document shares besides the fonts: the 草稿 watermark of an unsigned sheet.
COMMON_CSS = PDF_TEMPLATES / "common" / "common.css"

# Subset first for speed, the full font for characters outside GB2312 (rare names, addresses).
FONT_STACK = '"Portal CJK", "Portal CJK Full", sans-serif'

_DOCUMENT_NAME = re.compile(r"^[a-z0-9_]+$")

# FontConfiguration and the fontconfig state behind it are shared by every render and
# are not safe to use from two threads at once; PDFs are rare enough to serialise.
_render_lock = threading.Lock()


class URLRefused(ValueError):
    """A template asked for a resource outside the allowed folders."""


class RestrictedURLFetcher(URLFetcher):
    """Serve file: URLs under the allowed roots and refuse everything else, network included.

    Paths are resolved (symlinks and '..' followed) before the check, so an upload that is
    a symlink to /etc/passwd is refused like the plain path would be.
    """

    def __init__(self, allowed_roots, **kwargs):
        super().__init__(**kwargs)
        self.allowed_roots = tuple(Path(root).resolve() for root in allowed_roots)

    def fetch(self, url, headers=None):
        path = self.allowed_path(url)
        mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            path.as_uri(), body=path.read_bytes(), headers={"Content-Type": mime_type})

    def allowed_path(self, url: str) -> Path:
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            raise URLRefused(f"only local files may be used in a PDF: {url[:200]}")
        path = Path(url2pathname(unquote(parts.path))).resolve()
        if not any(path.is_relative_to(root) for root in self.allowed_roots):
            raise URLRefused(f"file outside the allowed folders: {path}")
        return path


@functools.cache
def _font_config() -> FontConfiguration:
    # Built on first use, not at import: loading fonts into fontconfig copies ~25 MB to a
    # temporary folder once per process; later renders find them there and skip it.
    return FontConfiguration()


@functools.cache
def _jinja() -> Environment:
    # Its own environment, not Flask's: jobs render PDFs without an app or request context.
    env = Environment(
        loader=FileSystemLoader(PDF_TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["file_url"] = lambda path: Path(path).resolve().as_uri() if path else ""
    env.filters["or_dash"] = _or_dash
    return env


def _or_dash(value):
    """Empty cells on a paper form get a dash, so a reader sees 'nothing' rather than 'forgotten'."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "—"
    return value


def render_pdf(document: str, context: dict, *,
               allowed_roots: Iterable[str | Path] = ()) -> bytes:
    """Render pdf_templates/<document>/template.html with its style.css to PDF bytes.

    allowed_roots: folders (besides pdf_templates/) the document may load files from,
    such as the uploads folder holding photo thumbnails and signature images.
    """
    if not _DOCUMENT_NAME.match(document):
        raise ValueError(f"not a PDF document name: {document!r}")
    folder = PDF_TEMPLATES / document
    html = _jinja().get_template(f"{document}/template.html").render(**context)
    return html_to_pdf(html, folder / "style.css", allowed_roots=allowed_roots)


def html_to_pdf(html: str, stylesheet: Path, *,
                allowed_roots: Iterable[str | Path] = ()) -> bytes:
    """HTML to PDF with our fonts, the shared page rules and `stylesheet` (relative URLs
    resolve beside it); bench/pdf_bench.py renders its yardstick form through it too."""
    folder = stylesheet.parent
    fetcher = RestrictedURLFetcher([PDF_TEMPLATES, folder, *allowed_roots])
    with _render_lock:
        return HTML(string=html, base_url=folder.as_uri() + "/", url_fetcher=fetcher).write_pdf(
            stylesheets=_stylesheets(stylesheet, stylesheet.stat().st_mtime_ns),
            font_config=_font_config())


@functools.lru_cache(maxsize=16)
def _stylesheets(stylesheet: Path, mtime_ns: int) -> list[CSS]:
    """The fonts, the shared rules and the document's own, parsed once per process (and again
    when its file changes): parsing them and compiling their selectors was a tenth of a
    render. A CSS object is only read by a render, and renders hold _render_lock."""
    fetcher = RestrictedURLFetcher([PDF_TEMPLATES, stylesheet.parent])
    font_config = _font_config()
    return [
        CSS(filename=str(FONTS_CSS), url_fetcher=fetcher, font_config=font_config),
        CSS(string=f"html {{ font-family: {FONT_STACK}; }}", url_fetcher=fetcher, font_config=font_config),
        CSS(filename=str(COMMON_CSS), url_fetcher=fetcher, font_config=font_config),
        CSS(filename=str(stylesheet), url_fetcher=fetcher, font_config=font_config),
    ]


def content_hash(obj) -> str:
    """SHA-256 of a canonical JSON form of obj: equal content gives an equal hash whatever the key order."""
    canonical = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                           default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
