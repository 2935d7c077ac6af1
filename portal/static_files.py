"""Static files under content-hashed names, cached for a year, text assets precompressed.

At start-up every file under static/ gets a name with a hash of its content
(`css/portal.css` → `css/portal.3f2a1b4c5d.css`) and `url_for('static', …)` answers the hashed
name, so a browser may keep each file for a year without asking again (`immutable`): a changed
file has a new name. Style sheets point at fonts by relative `url()`; those references are
rewritten to the hashed names too (and the sheet is hashed after the rewrite), otherwise every
page would still revalidate each font slice.

Text assets (CSS, JS, SVG) are held in memory, gzip- and brotli-compressed once, so serving
them costs no compression per request. The plain names still work (an old page, a bookmark),
with a short revalidating cache.
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import posixpath
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import brotli
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={YEAR}, immutable"
# Unhashed names (an old page, a hand-typed URL): usable, but revalidated.
PLAIN = "public, max-age=0, must-revalidate"
HASH_LEN = 10
# Served from memory and precompressed; everything else (woff2, images) is sent from disk.
TEXT_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
              ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")


@dataclass
class Asset:
    logical: str  # the name templates use, e.g. css/portal.css
    hashed: str
    body: bytes | None = None  # text assets only (after URL rewriting)
    etag: str = ""
    encoded: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Manifest:
    folder: Path
    cache_dir: Path | None = None  # compressed copies, named by content hash, shared by workers
    by_logical: dict[str, Asset] = field(default_factory=dict)
    by_hashed: dict[str, Asset] = field(default_factory=dict)


def _hashed_name(logical: str, digest: str) -> str:
    stem, ext = posixpath.splitext(logical)
    return f"{stem}.{digest[:HASH_LEN]}{ext}"


def _rewrite_css(css: str, logical: str, by_logical: dict[str, Asset]) -> str:
    base = posixpath.dirname(logical)

    def repl(m: re.Match) -> str:
        quote, url = m.group(1), m.group(2).strip()
        if url.startswith(("data:", "http:", "https:", "//", "/", "#")):
            return m.group(0)
        path, sep, rest = url.partition("?") if "?" in url else url.partition("#")
        target = posixpath.normpath(posixpath.join(base, path))
        asset = by_logical.get(target)
        if asset is None:
            return m.group(0)
        new = posixpath.relpath(asset.hashed, base or ".")
        if not new.startswith("."):
            new = "./" + new
        return f"url({quote}{new}{sep}{rest}{quote})"

    return CSS_URL.sub(repl, css)


def build_manifest(folder: str | os.PathLike) -> Manifest:
    folder = Path(folder)
    man = Manifest(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    # Style sheets last: their hash depends on the hashed names of what they reference.
    files.sort(key=lambda p: p.suffix == ".css")
    for p in files:
        logical = p.relative_to(folder).as_posix()
        data = p.read_bytes()
        ext = p.suffix.lower()
        if ext == ".css":
            data = _rewrite_css(data.decode("utf-8"), logical, man.by_logical).encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        asset = Asset(logical, _hashed_name(logical, digest), etag=digest[:20])
        if ext in TEXT_TYPES:
            asset.body = data
        man.by_logical[logical] = asset
        man.by_hashed[asset.hashed] = asset
    return man


def _signature(folder: Path) -> tuple:
    return tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                        for p in folder.rglob("*") if p.is_file()))


_CACHE: dict[str, tuple[tuple, Manifest]] = {}


def manifest_for(folder: str | os.PathLike) -> Manifest:
    """One manifest per static folder and process (the test suite creates many apps)."""
    folder = Path(folder).resolve()
    sig = _signature(folder)
    hit = _CACHE.get(str(folder))
    if hit is None or hit[0] != sig:
        hit = (sig, build_manifest(folder))
        _CACHE[str(folder)] = hit
    return hit[1]


class StaticFiles:
    """WSGI middleware in front of Flask for /static/: no session, login or CSRF work per file,
    and no `Vary: Cookie` (Flask adds it when anything reads the session), which would make a
    browser refetch an immutable file whenever the session cookie changes."""

    def __init__(self, wsgi_app, manifest: Manifest, prefix: str):
        self.wsgi_app = wsgi_app
        self.man = manifest
        self.prefix = prefix.rstrip("/") + "/"

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(self.prefix) or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        name = path[len(self.prefix):]
        asset, cache = self.man.by_hashed.get(name), IMMUTABLE
        if asset is None:
            asset, cache = self.man.by_logical.get(name), PLAIN
        if asset is None:  # Flask answers with the portal's own 404 page
            return self.wsgi_app(environ, start_response)
        req = Request(environ)
        if asset.body is not None:
            resp = _send_text(self.man, req, asset)
        else:
            resp = send_file(self.man.folder / asset.logical, environ,
                             mimetype=mimetypes.guess_type(asset.logical)[0], max_age=None,
                             conditional=True, etag=asset.etag)
        resp.headers["Cache-Control"] = cache
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp(environ, start_response)


_COMPRESS = {"br": lambda d: brotli.compress(d, quality=11), "gzip": lambda d: gzip.compress(d, 9, mtime=0)}
_lock = threading.Lock()


def compressed(man: Manifest, asset: Asset, encoding: str) -> bytes:
    """The asset compressed at the highest level, made once: brotli 11 takes ~1 s for the font
    style sheet, too slow per request or per worker start, so the result is kept on disk."""
    data = asset.encoded.get(encoding)
    if data is not None:
        return data
    with _lock:
        path = man.cache_dir / f"{asset.etag}.{encoding}" if man.cache_dir else None
        if path is not None and path.exists():
            data = path.read_bytes()
        else:
            data = _COMPRESS[encoding](asset.body)
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(f".{os.getpid()}.tmp")
                    tmp.write_bytes(data)
                    os.replace(tmp, path)
                except OSError:
                    pass  # a read-only instance folder: keep it in memory only
        asset.encoded[encoding] = data
    return data


def _send_text(man: Manifest, req: Request, asset: Asset) -> Response:
    if req.if_none_match.contains(asset.etag):
        resp = Response(status=304)
    else:
        body, encoding = asset.body, None
        for candidate in ("br", "gzip"):
            if req.accept_encodings[candidate] > 0:
                body, encoding = compressed(man, asset, candidate), candidate
                break
        resp = Response(body, content_type=TEXT_TYPES[posixpath.splitext(asset.logical)[1].lower()])
        if encoding:
            resp.headers["Content-Encoding"] = encoding
    resp.set_etag(asset.etag)
    resp.headers["Vary"] = "Accept-Encoding"
    return resp


def init_app(app) -> None:
    man = manifest_for(app.static_folder)
    man.cache_dir = Path(app.instance_path) / "static-compressed"

    @app.url_defaults
    def _hashed_static(endpoint, values):
        if endpoint == "static" and "filename" in values:
            asset = man.by_logical.get(values["filename"])
            if asset is not None:
                values["filename"] = asset.hashed

    app.wsgi_app = StaticFiles(app.wsgi_app, man, app.static_url_path)
