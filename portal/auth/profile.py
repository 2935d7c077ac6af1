"""The user's own profile: the handwritten signature and personal seal (人名章) they sign
with, and the images of signatures, served only to whoever may see what was signed."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.cases import evidence
from portal.errors import ValidationError
from portal.extensions import db
from portal.labels import N_
from portal.signing import faces
from portal.signing.models import Signature

bp = Blueprint("profile", __name__)


def _user():
    return current_user._get_current_object()


def _page(message: str | None = None, status: int = 200):
    return render_template("profile/profile.html", faces=faces.user_faces(_user()),
                           message=message), status


@bp.route("/profile")
@login_required
def profile():
    return _page()


# What the page says once a change is saved, by kind.
SAVED = {"signature": N_("已保存手写签名，之后的签名将使用它。"),
         "seal": N_("已保存人名章，之后的签名将使用它。")}
REMOVED = {"signature": N_("已删除手写签名；已签的记录仍显示签名时的图片。"),
           "seal": N_("已删除人名章；已签的记录仍显示签名时的图片。")}


@bp.route("/profile/<kind>", methods=["POST"])
@login_required
def set_face(kind: str):
    """An upload, or (for the signature) the pad's drawing; nothing changes if it is unfit.
    (The CSRF token is checked for every POST by the app's CSRFProtect.)"""
    if kind not in faces.KINDS:
        abort(404)
    upload = request.files.get("image")
    try:
        if upload and upload.filename:
            stored = faces.store_upload(upload, kind)
        elif kind == "signature":
            stored = faces.store_drawing(request.form.get("drawn", ""))
        else:
            raise ValidationError(_("请选择要上传的印章图片。"))
        faces.set_face(_user(), kind, stored)
    except ValidationError as exc:
        db.session.rollback()
        return _page(exc.message, 400)
    flash(_(SAVED[kind]), "success")
    return redirect(url_for("profile.profile"))


@bp.route("/profile/<kind>/remove", methods=["POST"])
@login_required
def remove_face(kind: str):
    if kind not in faces.KINDS:
        abort(404)
    if faces.remove_face(_user(), kind):
        flash(_(REMOVED[kind]), "success")
    return redirect(url_for("profile.profile"))


def _send(att):
    # Private and not stored by the browser (portal/security.py sets it for every page).
    return send_file(evidence.original_path(att.stored_name), mimetype=att.content_type, conditional=True)


@bp.route("/profile/<kind>.png")
@login_required
def own_face(kind: str):
    """The image the current user signs with now (their profile page only)."""
    if kind not in faces.KINDS:
        abort(404)
    att = faces.face_attachment(getattr(_user(), faces.KINDS[kind][0]), kind)
    return _send(att) if att else abort(404)


@bp.route("/signatures/<int:signature_id>/<kind>.png")
@login_required
def signature_face(signature_id: int, kind: str):
    """The image a signature was made with, for whoever may see the signed record."""
    signature = db.session.get(Signature, signature_id)
    if kind not in faces.KINDS or signature is None or not faces.may_see(signature, _user()):
        abort(404)
    att = faces.face_attachment(faces.signature_attachment_id(signature, kind), kind)
    return _send(att) if att else abort(404)
