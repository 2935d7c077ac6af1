"""Signatures with a face: the handwritten signature and seal (人名章) a user signs with,
kept on each signature as it was, shown beside the printed manifestation on pages and PDFs."""
import base64
import hashlib
import io
import struct
import subprocess
import zlib

import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw

from tests.conftest import count, csrf_from, jpeg_bytes, make_case_at, signed_in, user


def drawing_png(seed: int = 0) -> bytes:
    """What the pad sends: black strokes on a transparent ground."""
    img = Image.new("RGBA", (400, 120), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.line([(10, 60 + seed), (120, 20), (220, 100 - seed), (390, 40)], fill=(17, 17, 17, 255), width=4)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def seal_jpeg(gps: bool = False) -> bytes:
    img = Image.new("RGB", (900, 900), "white")
    ImageDraw.Draw(img).ellipse((100, 100, 800, 800), outline=(200, 20, 20), width=40)
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (30.0, 39.0, 0.0)}  # GPSInfo
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header (with a valid checksum) claims a huge size."""
    small = io.BytesIO()
    Image.new("L", (4, 4), 0).save(small, "PNG")
    data = small.getvalue()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]


def post_face(client, token, kind, *, drawn=None, file=None, name="签名.png"):
    data = {"csrf_token": token}
    if drawn is not None:
        data["drawn"] = drawn
    if file is not None:
        data["image"] = (io.BytesIO(file), name)
    return client.post(f"/profile/{kind}", data=data, content_type="multipart/form-data")


def attachment(att_id):
    from portal.cases.models import Attachment
    from portal.extensions import db
    return db.session.get(Attachment, att_id)


def stored_bytes(att_id) -> bytes:
    from portal.cases import evidence
    return evidence.original_path(attachment(att_id).stored_name).read_bytes()


def fresh_user(username):
    from portal.extensions import db
    db.session.expire_all()
    return user(username)


def test_drawn_signature_becomes_the_users_signature_image(app):
    client, token = signed_in(app, "leader_prod1")
    resp = post_face(client, token, "signature", drawn=data_url(drawing_png()))
    assert resp.status_code == 302
    page = client.get("/profile").get_data(as_text=True)
    assert "已保存手写签名" in page and 'alt="当前的手写签名"' in page
    leader = fresh_user("leader_prod1")
    att = attachment(leader.signature_image_id)
    assert att.purpose == "signature" and att.case_id is None and att.content_type == "image/png"
    img = Image.open(io.BytesIO(stored_bytes(att.id)))
    assert img.format == "PNG" and img.mode == "RGBA"
    own = client.get("/profile/signature.png")
    assert own.status_code == 200 and own.mimetype == "image/png"
    assert "no-store" in own.headers["Cache-Control"]
    from portal.extensions import db
    from portal.signing.models import AuditEvent
    event = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
    assert (event.action, event.object_type, event.object_id) == ("signature_image_set", "user", leader.id)


def test_uploaded_seal_is_kept_upright_small_and_without_gps(app):
    client, token = signed_in(app, "leader_prod1")
    resp = post_face(client, token, "seal", file=seal_jpeg(gps=True), name="印章照片.jpg")
    assert resp.status_code == 302
    att = attachment(fresh_user("leader_prod1").seal_image_id)
    kept = Image.open(io.BytesIO(stored_bytes(att.id)))
    assert kept.format == "PNG" and max(kept.size) <= 600
    assert not kept.getexif() and b"GPS" not in stored_bytes(att.id)
    assert att.original_name == "印章照片.png"


def test_a_photo_of_a_signature_on_paper_is_cropped_to_the_ink(app):
    """A phone photo of a sheet with the signature in the middle: the kept image is the
    signature, not the sheet (JPEG noise on the paper does not count as ink)."""
    photo = Image.new("RGB", (3000, 2000), (250, 250, 248))
    ImageDraw.Draw(photo).line([(1200, 1000), (1500, 900), (1800, 1050)], fill=(20, 20, 60), width=12)
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=70)
    client, token = signed_in(app, "leader_prod1")
    assert post_face(client, token, "signature", file=buf.getvalue(), name="签名照片.jpg").status_code == 302
    kept = Image.open(io.BytesIO(stored_bytes(fresh_user("leader_prod1").signature_image_id)))
    # 600 × 150 of ink plus a small margin, not 3000 × 2000 of paper shrunk to 600 × 400.
    assert 600 <= kept.width <= 680 and 150 <= kept.height <= 200


@pytest.mark.parametrize("kind, kwargs, message", [
    ("signature", {"drawn": "not a data url"}, "没有收到签名"),
    ("signature", {"drawn": "data:image/png;base64,@@@@"}, "签名数据已损坏"),
    ("signature", {"drawn": data_url(Image.new("RGBA", (1, 1)).tobytes())}, "不是可识别的 PNG 或 JPEG 图片"),
    ("signature", {"file": b"GIF89a" + b"\0" * 40, "name": "sig.gif"}, "不是可识别的 PNG 或 JPEG 图片"),
    ("signature", {"file": png_claiming(12000, 12000), "name": "大图.png"}, "像素超过"),
    ("seal", {"file": jpeg_bytes((200, 200), color=(255, 255, 255)), "name": "白纸.jpg"}, "图片是空白的"),
    ("seal", {}, "请选择要上传的印章图片"),
])
def test_unfit_image_is_refused_in_chinese_and_nothing_is_kept(app, kind, kwargs, message):
    from portal.cases.models import Attachment
    from portal.signing.models import AuditEvent
    client, token = signed_in(app, "leader_prod1")
    before = count(Attachment), count(AuditEvent)
    resp = post_face(client, token, kind, **kwargs)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert (count(Attachment), count(AuditEvent)) == before
    leader = fresh_user("leader_prod1")
    assert leader.signature_image_id is None and leader.seal_image_id is None


def test_a_12_megapixel_phone_photo_of_a_seal_is_taken_and_a_too_large_file_is_not(app):
    photo = Image.new("RGB", (4000, 3000), "white")
    ImageDraw.Draw(photo).ellipse((1500, 1000, 2500, 2000), outline=(200, 20, 20), width=60)
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=95)
    client, token = signed_in(app, "leader_prod1")
    assert post_face(client, token, "seal", file=buf.getvalue(), name="IMG_0001.JPG").status_code == 302
    kept = Image.open(io.BytesIO(stored_bytes(fresh_user("leader_prod1").seal_image_id)))
    assert max(kept.size) <= 600 and abs(kept.width - kept.height) <= 4  # the ring, cropped
    resp = post_face(client, token, "signature", file=b"\xff\xd8" + b"\0" * (15 * 1024 * 1024), name="大.jpg")
    assert resp.status_code == 400 and "超过单个文件 15 MB 的上限" in resp.get_data(as_text=True)
    assert fresh_user("leader_prod1").signature_image_id is None


def test_blank_drawing_is_refused(app):
    client, token = signed_in(app, "leader_prod1")
    blank = io.BytesIO()
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(blank, "PNG")
    resp = post_face(client, token, "signature", drawn=data_url(blank.getvalue()))
    assert resp.status_code == 400 and "图片是空白的" in resp.get_data(as_text=True)


def sign_with(app, client, token, png):
    assert post_face(client, token, "signature", drawn=data_url(png)).status_code == 302
    return fresh_user("leader_prod1").signature_image_id


def case_signatures(case):
    from portal.cases.timeline import case_signatures as sigs
    from portal.extensions import db
    db.session.expire_all()
    return sigs(case.id)


def test_each_signature_keeps_the_image_and_seal_it_was_signed_with(app):
    from portal.cases import operations as ops
    from portal.signing.faces import face_paths
    client, token = signed_in(app, "leader_prod1")
    first = sign_with(app, client, token, drawing_png(0))
    assert post_face(client, token, "seal", file=seal_jpeg(), name="章.jpg").status_code == 302
    case = make_case_at("approved")  # the leader approves with the first image and the seal
    second = sign_with(app, client, token, drawing_png(30))
    assert client.post("/profile/seal/remove", data={"csrf_token": token}).status_code == 302
    ops.record_implementation(case, user("handler_prod1"), case.version, text="已上门送达十袋产品")
    ops.record_callback(case, user("rep_cd"), case.version, reached=True, satisfied=True,
                        scores={"score_quality": 4}, comment=None)
    ops.sign_off_case(case, fresh_user("leader_prod1"), case.version, password="demo1234")
    approve, sign_off = case_signatures(case)
    assert (approve.image_attachment_id, sign_off.image_attachment_id) == (first, second)
    assert approve.seal_attachment_id is not None and sign_off.seal_attachment_id is None
    from portal.extensions import db
    from portal.signing.models import AuditEvent
    signed = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == "signed", AuditEvent.object_id == approve.id)).scalar_one()
    assert (signed.after["image_attachment_id"], signed.after["seal_attachment_id"]) == (
        first, approve.seal_attachment_id)
    image, seal = face_paths(approve)
    assert image.read_bytes() == stored_bytes(first) and seal is not None
    assert face_paths(sign_off)[1] is None

    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert f"/signatures/{approve.id}/signature.png" in page and f"/signatures/{approve.id}/seal.png" in page
    assert f"/signatures/{sign_off.id}/signature.png" in page and f"/signatures/{sign_off.id}/seal.png" not in page
    assert page.count(approve.printed_name) >= 2  # the printed manifestation stays beside them
    served = client.get(f"/signatures/{approve.id}/signature.png")
    assert served.status_code == 200
    assert hashlib.sha256(served.data).hexdigest() == attachment(first).sha256
    assert "no-store" in served.headers["Cache-Control"]


def test_the_signing_panel_says_what_the_signature_will_carry(app):
    case = make_case_at("proposed")
    client, token = signed_in(app, "leader_prod1")
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "您还没有手写签名" in page and 'href="/profile">设置手写签名' in page
    sign_with(app, client, token, drawing_png())
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "签名时附上您的手写签名或人名章图片" in page and "您还没有手写签名" not in page


def test_signature_images_show_only_to_those_who_may_see_the_case(app):
    client, token = signed_in(app, "leader_prod1")
    sign_with(app, client, token, drawing_png())
    case = make_case_at("approved")
    (approve,) = case_signatures(case)
    url = f"/signatures/{approve.id}/signature.png"
    other, _ = signed_in(app, "rep_bj")  # another branch: the case is not theirs
    assert other.get(url).status_code == 404
    same_branch, _ = signed_in(app, "rep_cd")
    assert same_branch.get(url).status_code == 200
    assert same_branch.get(f"/signatures/{approve.id}/seal.png").status_code == 404  # none was used


def test_corrective_action_sheet_shows_the_leaders_signature_to_those_who_see_the_sheet(app):
    from tests.conftest import make_sheet_at
    client, token = signed_in(app, "leader_prod1")
    sign_with(app, client, token, drawing_png())
    sheet = make_sheet_at("approved")
    from portal.extensions import db
    from portal.signing.models import Signature
    approval = db.session.execute(sa.select(Signature).where(
        Signature.object_type == "corrective_action", Signature.object_id == sheet.id,
        Signature.signer_id == user("leader_prod1").id)).scalar_one()
    url = f"/signatures/{approval.id}/signature.png"
    quality, _ = signed_in(app, "quality")
    assert url in quality.get(f"/ca/{sheet.number}").get_data(as_text=True)
    assert quality.get(url).status_code == 200
    other, _ = signed_in(app, "rep_bj")
    assert other.get(f"/ca/{sheet.number}").status_code == 404 and other.get(url).status_code == 404


def test_signoff_pdf_shows_the_signature_and_seal_beside_the_printed_name(app, tmp_path):
    from portal.cases.documents import signoff_pdf_path
    client, token = signed_in(app, "leader_prod1")
    sign_with(app, client, token, drawing_png())
    assert post_face(client, token, "seal", file=seal_jpeg(), name="章.jpg").status_code == 302
    case = make_case_at("closed")
    path = signoff_pdf_path(case, full_phone=False)
    listing = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]
    # No photos on this case: the images are the two signatures' faces, each a signature
    # image and a seal (the leader approved and signed off with the same ones).
    assert len(listing) >= 4
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert fresh_user("leader_prod1").name in text


def test_profile_page_in_english(app):
    client, token = signed_in(app, "leader_prod1")
    client.get("/lang/en")
    html = client.get("/profile").get_data(as_text=True)
    assert "My signature and seal" in html and "Write on the signature pad" in html
    resp = post_face(client, token, "seal", file=b"GIF89a" + b"\0" * 40, name="seal.gif")
    assert "is not a recognisable PNG or JPEG image" in resp.get_data(as_text=True)


def test_profile_page_needs_a_login_and_its_forms_a_valid_token(app):
    anonymous = app.test_client()
    assert anonymous.get("/profile").status_code == 302
    client, token = signed_in(app, "leader_prod1")
    assert client.get("/profile/signature.png").status_code == 404  # none set yet
    resp = client.post("/profile/signature", data={"drawn": data_url(drawing_png())})
    assert resp.status_code == 400
    assert fresh_user("leader_prod1").signature_image_id is None
    assert csrf_from(client, "/profile")
