"""The face of a signature: a user's handwritten signature image and personal seal (人名章).

Uploaded or drawn images are checked like evidence, then kept as a small upright PNG
without the original's metadata (a phone photo of a seal carries GPS). A Signature copies
the ids when it is made, so a later change of image leaves old signatures as signed; the
printed manifestation (name, role, meaning, time) is always shown, the images beside it.
"""
from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from portal.cases import evidence
from portal.cases.models import Attachment
from portal.errors import ValidationError
from portal.extensions import db
from portal.signing import audit

# kind → (User column, Signature column, bounding box of the kept PNG)
KINDS = {
    "signature": ("signature_image_id", "image_attachment_id", (1200, 400)),
    "seal": ("seal_image_id", "seal_attachment_id", (600, 600)),
}
FACE_FORMATS = {"PNG", "JPEG"}
# A drawing from the pad is a few tens of KB; an upload may be a phone photo of a signed
# sheet or a stamped seal, limited like any evidence photo (MAX_FILE_BYTES).
MAX_DRAWING_BYTES = 2 * 1024 * 1024
DECODE_PX = 2400  # a JPEG is decoded at the smallest scale still this large (it ends ≤ 1200)
DATA_URL_PREFIX = "data:image/png;base64,"


def _kind(kind: str) -> tuple:
    if kind not in KINDS:
        raise ValidationError(_("未知的签名图片类型。"))
    return KINDS[kind]


def _normalise(data: bytes, name: str, kind: str) -> bytes:
    """The image as the PNG we keep: checked by content, upright, bounded, no metadata."""
    try:
        img = Image.open(io.BytesIO(data))
        if img.format not in FACE_FORMATS:
            raise ValidationError(_("「%(name)s」的格式不受支持：签名和印章只接受 PNG 或 JPEG 图片。", name=name))
        if img.width * img.height > evidence.MAX_PHOTO_PIXELS:
            raise evidence._too_many_pixels(name)
        if img.format == "JPEG":
            scale = min(1, DECODE_PX / max(img.size))  # proportional box: see ensure_renditions
            img.draft("RGB", (max(1, int(img.width * scale)), max(1, int(img.height * scale))))
        img.load()
    except ValidationError:
        raise
    except Image.DecompressionBombError:
        raise evidence._too_many_pixels(name)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(_("「%(name)s」不是可识别的 PNG 或 JPEG 图片（内容与格式不符或已损坏）。", name=name))
    img = ImageOps.exif_transpose(img)
    img = img.convert("RGBA") if "A" in img.getbands() or img.mode == "P" else img.convert("RGB")
    ink = _ink_box(img)
    if ink is None:
        raise ValidationError(_("图片是空白的：请上传或写下您的签名。") if kind == "signature"
                              else _("图片是空白的：请上传您的印章图片。"))
    # Cropped to the ink with a small margin: a photo of a signature on a sheet of paper
    # would otherwise print as a speck in the middle of its box.
    pad = max(4, (ink[2] - ink[0] + ink[3] - ink[1]) // 40)
    img = img.crop((max(0, ink[0] - pad), max(0, ink[1] - pad),
                    min(img.width, ink[2] + pad), min(img.height, ink[3] + pad)))
    img.thumbnail(KINDS[kind][2])
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def _ink_box(img: Image.Image) -> tuple[int, int, int, int] | None:
    """Where the ink is: what is clearly darker than white once laid on white paper (a
    transparent ground counts as paper; JPEG's faint noise around white does not count)."""
    paper = Image.new("RGB", img.size, "white")
    if img.mode == "RGBA":
        paper.paste(img, mask=img.getchannel("A"))
    else:
        paper = img
    return ImageOps.invert(paper.convert("L")).point(lambda v: 255 if v > 32 else 0).getbbox()


def _store(data: bytes, name: str, kind: str) -> evidence.StoredFile:
    png = _normalise(data, name, kind)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return evidence.store_upload(FileStorage(io.BytesIO(png), filename=f"{stem}.png"))


def store_upload(file, kind: str) -> evidence.StoredFile:
    """An uploaded signature or seal image, stored; ValidationError (Chinese) if unfit."""
    _kind(kind)
    name = evidence.clean_name(getattr(file, "filename", None))
    data = evidence._read_bounded(file.stream if hasattr(file, "stream") else file,
                                  current_app.config["MAX_FILE_BYTES"], name)
    return _store(data, name, kind)


def store_drawing(data_url: str) -> evidence.StoredFile:
    """A signature drawn on the pad (static/js/signature-pad.js sends a PNG data URL)."""
    name = "手写签名.png"  # the stored original name, as a drawn file has none
    data_url = (data_url or "").strip()
    if not data_url.startswith(DATA_URL_PREFIX):
        raise ValidationError(_("没有收到签名：请在签名板上写下您的签名。"))
    encoded = data_url[len(DATA_URL_PREFIX):]
    if len(encoded) > MAX_DRAWING_BYTES * 4 // 3 + 4:
        raise ValidationError(_("文件「%(name)s」超过单个文件 %(mb)s MB 的上限。", name=name,
                                mb=MAX_DRAWING_BYTES // (1024 * 1024)))
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(_("签名数据已损坏，请清除后重新书写。"))
    return _store(data, name, "signature")


# ---------------------------------------------------------------- operations

def set_face(actor, kind: str, stored: evidence.StoredFile) -> Attachment:
    """The user's new signature or seal image, from their next signature on; one transaction
    with its audit event. The old image stays: signatures made with it still show it."""
    user_column = _kind(kind)[0]
    att = Attachment(token=stored.token, purpose=kind, uploaded_by_id=actor.id,
                     original_name=stored.original_name, stored_name=stored.stored_name,
                     content_type=stored.content_type, size=stored.size, sha256=stored.sha256,
                     width=stored.width, height=stored.height)
    db.session.add(att)
    db.session.flush()
    before = getattr(actor, user_column)
    setattr(actor, user_column, att.id)
    audit.record(f"{kind}_image_set", actor=actor, object_type="user", object_id=actor.id,
                 before={user_column: before}, after={user_column: att.id, "sha256": att.sha256})
    db.session.commit()
    return att


def remove_face(actor, kind: str) -> bool:
    """No signature or seal image from now on (signatures already made keep theirs)."""
    user_column = _kind(kind)[0]
    before = getattr(actor, user_column)
    if before is None:
        return False
    setattr(actor, user_column, None)
    audit.record(f"{kind}_image_removed", actor=actor, object_type="user", object_id=actor.id,
                 before={user_column: before}, after={user_column: None})
    db.session.commit()
    return True


# ---------------------------------------------------------------- reading

def face_attachment(attachment_id: int | None, kind: str) -> Attachment | None:
    """The stored image behind an id kept on a user or a signature, if its file is there."""
    if not attachment_id:
        return None
    att = db.session.get(Attachment, attachment_id)
    if att is None or att.purpose != kind or att.case_id is not None:
        return None
    return att if evidence.original_path(att.stored_name).exists() else None


def face_path(attachment_id: int | None, kind: str) -> Path | None:
    att = face_attachment(attachment_id, kind)
    return evidence.original_path(att.stored_name) if att else None


def face_paths(signature) -> tuple[Path | None, Path | None]:
    """(handwritten signature image, seal image) the signature was made with, as files for
    a PDF (under UPLOAD_DIR: pass it in render_pdf's allowed_roots); None where it has none."""
    return (face_path(signature.image_attachment_id, "signature"),
            face_path(signature.seal_attachment_id, "seal"))


def user_faces(user) -> dict[str, Attachment | None]:
    """The images the user would sign with now, by kind (for the profile page)."""
    return {kind: face_attachment(getattr(user, cols[0]), kind) for kind, cols in KINDS.items()}


def signature_attachment_id(signature, kind: str) -> int | None:
    return getattr(signature, _kind(kind)[1])


def may_see(signature, viewer) -> bool:
    """The face of a signature shows to whoever may see what was signed (and to the signer)."""
    if signature.signer_id == viewer.id:
        return True
    if signature.object_type == "corrective_action":
        return _sheet_visible(signature.object_id, viewer)
    if signature.object_type == "assessment_month":  # a month's 考核: whoever may open reports
        from portal.reports.routes import REPORT_ROLES
        return viewer.has_role(*REPORT_ROLES)
    if signature.case_id:
        from portal.cases import access
        from portal.cases.models import Case
        case = db.session.get(Case, signature.case_id)
        return case is not None and access.can_view(case, viewer)
    return False


def _sheet_visible(sheet_id: int, viewer) -> bool:
    # Imported here: portal.capa imports this module for its PDF.
    from portal.capa.access import can_view
    from portal.capa.models import CorrectiveAction
    sheet = db.session.get(CorrectiveAction, sheet_id)
    return sheet is not None and can_view(sheet, viewer)
