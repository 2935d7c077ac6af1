"""Evidence files: checked by content (not name), kept byte for byte with their SHA-256,
with EXIF-rotated, GPS-free thumbnails and previews for the gallery.

Files are stored before the case exists (under a generated name) and carried through the
form as signed tokens, so a form that fails validation loses no upload.
"""
from __future__ import annotations

import hashlib
import io
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from portal.clock import utcnow
from portal.errors import ValidationError

register_heif_opener()
# A phone photo is at most 50 MP (8160×6120 on the largest sensors). More is refused from the
# header, before decoding: a few hundred KB of PNG can claim 12000×12000 and cost 1.3 GB to
# decode. Pillow's own guard stays as a backstop (it raises only above twice its limit).
MAX_PHOTO_PIXELS = 50_000_000
Image.MAX_IMAGE_PIXELS = MAX_PHOTO_PIXELS

PHOTO_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"),
                 "WEBP": ("image/webp", "webp"), "HEIF": ("image/heic", "heic")}
THUMB_PX, PREVIEW_PX = 320, 1600


@dataclass
class StoredFile:
    token: str
    stored_name: str
    original_name: str
    content_type: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="evidence-upload")


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def original_path(stored_name: str) -> Path:
    return upload_root() / "originals" / stored_name


def thumb_path(token: str) -> Path:
    return upload_root() / "thumbs" / f"{token}.jpg"


def preview_path(token: str) -> Path:
    return upload_root() / "previews" / f"{token}.jpg"


def clean_name(name: str | None) -> str:
    """Keep the original (Chinese) name for display, bounded and without path parts."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return (name or "未命名文件")[-120:]


def _read_bounded(file, limit: int, name: str) -> bytes:
    data = file.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(_("文件「%(name)s」超过单个文件 %(mb)s MB 的上限。", name=name, mb=limit // (1024 * 1024)))
    if not data:
        raise ValidationError(_("文件「%(name)s」是空的。", name=name))
    return data


def ensure_renditions(token: str, stored_name: str) -> bool:
    """Make the thumbnail and preview of a stored photo if they are missing (idempotent).

    Upright (EXIF orientation applied) and without the original's metadata, GPS included.
    Run by a worker after intake; the file routes call it too, so a gallery never waits
    for a worker that is down.
    """
    thumb, preview = thumb_path(token), preview_path(token)
    if thumb.exists() and preview.exists():
        return False
    img = Image.open(original_path(stored_name))
    if img.format == "JPEG":
        # Decode at 1/2, 1/4 or 1/8 scale. draft() shrinks only while *both* sides stay at
        # least the box, so the box needs the photo's proportions: with a square box a 4:3
        # phone photo (4000×3000 → 3000 < 2×1600) is decoded at full size.
        w, h = img.size
        scale = PREVIEW_PX / max(w, h)
        img.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
    img = ImageOps.exif_transpose(img)
    if img.mode not in ("RGB", "L"):
        background = Image.new("RGB", img.size, "white")
        rgba = img.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        img = background
    for path, px in ((preview, PREVIEW_PX), (thumb, THUMB_PX)):
        path.parent.mkdir(parents=True, exist_ok=True)
        copy = img.copy()
        copy.thumbnail((px, px))
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.part")
        # Saved without exif=…: nothing of the original metadata is carried over.
        copy.save(tmp, "JPEG", quality=82)
        os.replace(tmp, path)  # two makers racing both write whole files
        img = copy  # the smaller size is made from the larger one
    return True


def store_upload(file) -> StoredFile:
    """Check one uploaded file by its content and store it; raise ValidationError if unfit."""
    name = clean_name(getattr(file, "filename", None))
    data = _read_bounded(file.stream if hasattr(file, "stream") else file,
                         current_app.config["MAX_FILE_BYTES"], name)
    token = secrets.token_hex(16)
    width = height = None
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-2048:]:
            raise ValidationError(_("文件「%(name)s」不是完整的 PDF 文档。", name=name))
        content_type, ext = "application/pdf", "pdf"
    else:
        try:
            img = Image.open(io.BytesIO(data))
            fmt = img.format
            if fmt not in PHOTO_FORMATS:
                raise ValidationError(_("文件「%(name)s」的格式不受支持：只接受 JPEG、PNG、WebP、HEIC 照片或 PDF 文档。", name=name))
            width, height = img.size
            if width * height > MAX_PHOTO_PIXELS:
                raise _too_many_pixels(name)
            if fmt == "JPEG":
                # Decoding at 1/8 scale still reads every byte of the image data, so a
                # truncated or corrupt photo fails here at a fraction of the full cost.
                img.draft("RGB", (THUMB_PX, THUMB_PX))
            ImageFile.LOAD_TRUNCATED_IMAGES = False  # a library may have turned it on (WeasyPrint does)
            img.load()
        except ValidationError:
            raise
        except Image.DecompressionBombError:  # so large that Pillow refuses even to open it
            raise _too_many_pixels(name)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise ValidationError(_("文件「%(name)s」不是可识别的照片或 PDF（文件内容与格式不符或已损坏）。", name=name))
        content_type, ext = PHOTO_FORMATS[fmt]
    now = utcnow()
    stored_name = f"{now:%Y/%m}/{token}.{ext}"
    path = original_path(stored_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return StoredFile(token=token, stored_name=stored_name, original_name=name,
                      content_type=content_type, size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), width=width, height=height)


def _too_many_pixels(name: str) -> ValidationError:
    return ValidationError(_("照片「%(name)s」的像素超过 %(mp)s 百万像素的上限，请缩小后再上传。",
                             name=name, mp=MAX_PHOTO_PIXELS // 1_000_000))


def join_sentences(messages: list[str]) -> str | None:
    """Several messages as one paragraph. Each is a whole sentence with its own full stop, so
    a separator such as "；" would read "。；": Chinese sentences simply follow each other, and
    one ending in a Western full stop gets a space before the next (English)."""
    out = ""
    for message in messages:
        if out and not out.endswith(("。", "！", "？")):
            out += " "
        out += message
    return out or None


def sign_token(f: StoredFile, user_id: int) -> str:
    return _serializer().dumps({**asdict(f), "uid": user_id})


def read_token(token: str, user_id: int) -> StoredFile | None:
    """A staged file carried through a form; only its uploader may attach it."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if data.pop("uid", None) != user_id or not original_path(data["stored_name"]).exists():
        return None
    return StoredFile(**data)


def collect(files, tokens, user_id: int, *, existing_bytes: int = 0, existing_count: int = 0):
    """Store new uploads and re-read staged ones; returns (kept files, error message or None).

    Every good file is kept even when another fails, so the user re-sends only the bad one.
    """
    cfg = current_app.config
    kept: list[StoredFile] = []
    seen: set[str] = set()
    errors: list[str] = []
    for token in tokens:
        f = read_token(token, user_id)
        if f and f.token not in seen:
            kept.append(f)
            seen.add(f.token)
    for file in files:
        if not file or not getattr(file, "filename", ""):
            continue
        try:
            kept.append(store_upload(file))
        except ValidationError as exc:
            errors.append(exc.message)
    total = existing_bytes + sum(f.size for f in kept)
    if total > cfg["MAX_CASE_BYTES"]:
        errors.append(_("附件总大小超过每个投诉 %(mb)s MB 的上限，请删减后再提交。", mb=cfg["MAX_CASE_BYTES"] // (1024 * 1024)))
    if existing_count + len(kept) > cfg["MAX_FILES_PER_CASE"]:
        errors.append(_("附件数量超过每个投诉 %(n)s 个的上限。", n=cfg["MAX_FILES_PER_CASE"]))
    return kept, join_sentences(errors)


def purge_orphans(max_age_hours: int = 48) -> int:
    """Delete stored files older than the limit that no attachment row refers to."""
    import time

    import sqlalchemy as sa

    from portal.cases.models import Attachment
    from portal.extensions import db

    cutoff = time.time() - max_age_hours * 3600
    root = upload_root() / "originals"
    if not root.exists():
        return 0
    old = [p for p in root.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff]
    removed = 0
    for chunk in range(0, len(old), 500):
        paths = old[chunk:chunk + 500]
        tokens = {p.stem: p for p in paths}
        kept = set(db.session.execute(
            sa.select(Attachment.token).where(Attachment.token.in_(tokens))).scalars())
        for token, path in tokens.items():
            if token in kept:
                continue
            for p in (path, thumb_path(token), preview_path(token)):
                p.unlink(missing_ok=True)
            removed += 1
    return removed
