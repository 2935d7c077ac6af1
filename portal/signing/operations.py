"""Signing: re-authenticate the signer, hash and freeze the signed content, audit it."""
from __future__ import annotations

from flask_babel import gettext as _

from portal.clock import utcnow
from portal.errors import ValidationError
from portal.extensions import db
from portal.jsonutil import jsonable, sha256_of
from portal.org.enums import Role
from portal.signing import audit
from portal.signing.enums import SignatureMeaning
from portal.signing.models import Signature


def sign(actor, password: str, *, meaning: SignatureMeaning, role: Role, object_type: str,
         object_id: int, content: dict, case_id: int | None = None,
         comment: str | None = None) -> Signature:
    """Add a signature to the current transaction; a wrong password signs nothing."""
    if not actor.check_password(password or ""):
        raise ValidationError(_("签名密码不正确，请重新输入您的登录密码。"),
                              {"password": _("密码不正确")})
    frozen = jsonable(content)
    signature = Signature(
        object_type=object_type, object_id=object_id, case_id=case_id, signer_id=actor.id,
        printed_name=actor.name, role=role, unit_name=actor.unit.name if actor.unit else None,
        meaning=meaning, signed_at=utcnow(), content=frozen, content_hash=sha256_of(frozen),
        comment=comment, image_attachment_id=actor.signature_image_id,
        seal_attachment_id=actor.seal_image_id)
    db.session.add(signature)
    db.session.flush()
    # The images it was signed with go into the hash chain too, so which ones were used stays
    # on record even if the signature row were edited afterwards.
    faces = {k: v for k, v in (("image_attachment_id", signature.image_attachment_id),
                               ("seal_attachment_id", signature.seal_attachment_id)) if v}
    audit.record("signed", actor=actor, object_type="signature", object_id=signature.id,
                 case_id=case_id, after={"meaning": meaning, "content_hash": signature.content_hash,
                                         "object": f"{object_type}:{object_id}", **faces})
    return signature
