"""Intake from the rep's phone and the desk: evidence checks, bad input, nothing half-saved."""
import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from portal.cases.models import Attachment, Case
from portal.extensions import db
from tests.conftest import INTAKE_FORM as FORM, count, csrf_from, jpeg_bytes, png_bytes, post_intake


def local_input(hours_ago: float = 0, days_ago: float = 0) -> str:
    """What the desk types into the datetime-local field: Beijing wall time."""
    from datetime import timedelta
    from portal.clock import local, utcnow
    return (local(utcnow()) - timedelta(hours=hours_ago, days=days_ago)).strftime("%Y-%m-%dT%H:%M")


def exif_rotated_jpeg() -> bytes:
    """A landscape 400×200 image whose EXIF says "rotate 90°", with GPS data."""
    img = Image.new("RGB", (400, 200), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW
    exif[0x8825] = {1: "N", 2: (30.0, 39.0, 0.0), 3: "E", 4: (104.0, 4.0, 0.0)}  # GPS IFD
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_rep_submits_case_with_photos_and_sees_it(app, as_user):
    rep = as_user("rep_cd")
    resp = post_intake(rep, files=[("缺陷照片.jpg", exif_rotated_jpeg()), ("批号.png", png_bytes())])
    assert resp.status_code == 303
    number = re.search(r"/cases/(KS\d{4}-\d{6})", resp.headers["Location"]).group(1)
    page = rep.get(f"/cases/{number}").get_data(as_text=True)
    assert number in page and "王秀英" in page and "生产一部" in page  # batch traced to its department
    case = db.session.execute(sa.select(Case).where(Case.number == number)).scalar_one()
    names = sorted(a.original_name for a in case.attachments)
    assert names == ["批号.png", "缺陷照片.jpg"]  # Chinese names kept
    photo = next(a for a in case.attachments if a.original_name == "缺陷照片.jpg")
    thumb = rep.get(f"/cases/{number}/files/{photo.id}/thumb")
    assert thumb.status_code == 200
    img = Image.open(io.BytesIO(thumb.data))
    assert img.height > img.width  # EXIF orientation applied
    assert not img.getexif().get_ifd(0x8825)  # no GPS in what the portal shows
    original = rep.get(f"/cases/{number}/files/{photo.id}/original")
    import hashlib
    assert hashlib.sha256(original.data).hexdigest() == photo.sha256


def test_other_branch_rep_gets_404_for_case_and_photo(app, as_user):
    rep = as_user("rep_cd")
    resp = post_intake(rep, files=[("a.jpg", jpeg_bytes())])
    number = resp.headers["Location"].rsplit("/", 1)[-1]
    att = db.session.execute(sa.select(Attachment)).scalars().first()
    other = as_user("rep_zz")
    assert other.get(f"/cases/{number}").status_code == 404
    assert other.get(f"/cases/{number}/files/{att.id}/original").status_code == 404
    assert other.get(f"/cases/{number}/signoff.pdf").status_code == 404
    assert number not in other.get("/cases/").get_data(as_text=True)


def test_list_masks_customer_phone(app, as_user):
    desk = as_user("desk")
    post_intake(desk, channel="hotline")
    html = desk.get("/cases/").get_data(as_text=True)
    assert "139****5678" in html.replace(" ", "") or "139*" in html
    assert "13912345678" not in html.replace(" ", "")


@pytest.mark.parametrize("name,content,message", [
    ("evil.jpg", b"#!/bin/sh\nrm -rf /\n", "不是可识别的照片"),
    ("broken.png", png_bytes()[:60], "不是可识别的照片"),
])
def test_bad_file_is_refused_and_typed_text_kept(app, as_user, name, content, message):
    rep = as_user("rep_cd")
    resp = post_intake(rep, files=[(name, content)])
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and message in html and name in html
    assert 'value="王秀英"' in html and "水饺里有一根头发" in html
    assert count(Case) == 0 and count(Attachment) == 0


def test_oversized_file_is_refused(app, as_user):
    app.config["MAX_FILE_BYTES"] = 100_000
    try:
        resp = post_intake(as_user("rep_cd"), files=[("big.jpg", jpeg_bytes((3000, 3000)) + b"0" * 200_000)])
    finally:
        app.config["MAX_FILE_BYTES"] = 15 * 1024 * 1024
    assert resp.status_code == 400 and "超过单个文件" in resp.get_data(as_text=True)
    assert count(Case) == 0


def test_good_upload_survives_a_form_error(app, as_user):
    rep = as_user("rep_cd")
    resp = post_intake(rep, files=[("good.jpg", jpeg_bytes())], customer_name="")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "此项为必填项" in html
    token = re.search(r'name="upload_token" value="([^"]+)"', html).group(1)
    data = {**FORM, "csrf_token": csrf_from(rep, "/cases/new"), "upload_token": token}
    resp = rep.post("/cases/new", data=data, content_type="multipart/form-data")
    assert resp.status_code == 303
    assert [a.original_name for a in db.session.execute(sa.select(Attachment)).scalars()] == ["good.jpg"]


def test_upload_token_of_another_user_is_ignored(app, as_user):
    rep = as_user("rep_cd")
    html = post_intake(rep, files=[("good.jpg", jpeg_bytes())], customer_name="").get_data(as_text=True)
    token = re.search(r'name="upload_token" value="([^"]+)"', html).group(1)
    other = as_user("rep_zz")
    data = {**FORM, "csrf_token": csrf_from(other, "/cases/new"), "upload_token": token}
    assert other.post("/cases/new", data=data, content_type="multipart/form-data").status_code == 303
    assert count(Attachment) == 0


def test_markup_and_template_syntax_are_shown_as_text(app, as_user):
    rep = as_user("rep_cd")
    resp = post_intake(rep, description="<script>alert(1)</script> {{7*7}}", customer_name="{{7*7}}")
    number = resp.headers["Location"].rsplit("/", 1)[-1]
    html = rep.get(f"/cases/{number}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "{{7*7}}" in html and ">49<" not in html


def test_quotes_in_batch_number_get_a_message(app, as_user):
    resp = post_intake(as_user("rep_cd"), batch_no="2026'0901\"--")
    assert resp.status_code == 400 and "批号只能包含" in resp.get_data(as_text=True)
    assert count(Case) == 0


def test_post_without_csrf_token_is_400(app, as_user):
    rep = as_user("rep_cd")
    resp = rep.post("/cases/new", data=FORM)
    assert resp.status_code == 400 and "安全令牌" in resp.get_data(as_text=True)
    assert count(Case) == 0


def test_desk_registers_hotline_case_with_channel(app, as_user):
    desk = as_user("desk")
    resp = post_intake(desk, channel="regulator", branch_id="", received_at=local_input(hours_ago=1))
    assert resp.status_code == 303
    case = db.session.execute(sa.select(Case)).scalar_one()
    assert case.channel.value == "regulator" and case.branch_id is None


def test_batch_lookup_shows_product_department_and_sibling_cases(app, as_user):
    rep = as_user("rep_cd")
    post_intake(rep)
    html = rep.get("/batches/lookup?batch_no=2026090110100").get_data(as_text=True)
    assert "三鲜水饺" in html and "生产一部" in html and "已有 1 起投诉" in html
    assert "未找到" in rep.get("/batches/lookup?batch_no=NOPE1").get_data(as_text=True)


def test_unsubmitted_uploads_are_purged_but_case_files_kept(app, as_user):
    import os
    import time
    from portal.cases import evidence
    rep = as_user("rep_cd")
    post_intake(rep, files=[("kept.jpg", jpeg_bytes())])
    post_intake(rep, files=[("abandoned.jpg", jpeg_bytes())], customer_name="")
    originals = list((evidence.upload_root() / "originals").rglob("*.jpg"))
    assert len(originals) >= 2
    old = time.time() - 72 * 3600
    for p in originals:
        os.utime(p, (old, old))
    kept_token = db.session.execute(sa.select(Attachment.token)).scalar_one()
    assert evidence.purge_orphans(48) == len(originals) - 1
    left = [p.stem for p in (evidence.upload_root() / "originals").rglob("*.jpg")]
    assert left == [kept_token]


def _heic_bytes() -> bytes:
    import pillow_heif
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 30, 30)).save(buf, "HEIF")
    return buf.getvalue()


def _webp_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 90, 30)).save(buf, "WEBP")
    return buf.getvalue()


PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def test_iphone_heic_webp_and_pdf_are_accepted_by_content(app, as_user):
    rep = as_user("rep_cd")
    # Names lie on purpose: the server goes by content, not by extension.
    resp = post_intake(rep, files=[("IMG_0001.HEIC", _heic_bytes()), ("photo.bin", _webp_bytes()),
                                   ("检验报告.pdf", PDF)])
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    kinds = {a.original_name: a.content_type for a in db.session.execute(sa.select(Attachment)).scalars()}
    assert kinds == {"IMG_0001.HEIC": "image/heic", "photo.bin": "image/webp", "检验报告.pdf": "application/pdf"}
    heic = db.session.execute(sa.select(Attachment).where(Attachment.content_type == "image/heic")).scalar_one()
    number = resp.headers["Location"].rsplit("/", 1)[-1]
    thumb = rep.get(f"/cases/{number}/files/{heic.id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"  # browsers can show it


def test_long_chinese_file_name_is_kept_and_bounded(app, as_user):
    rep = as_user("rep_cd")
    name = "附件测试" * 100 + ".jpg"
    assert post_intake(rep, files=[(name, jpeg_bytes())]).status_code == 303
    stored = db.session.execute(sa.select(Attachment)).scalar_one()
    assert stored.original_name.endswith("附件测试.jpg") and len(stored.original_name) <= 120


def test_list_search_finds_by_number_phone_batch_and_name(app, as_user):
    from tests.conftest import make_case
    first = make_case(customer_name="赵春梅", customer_phone="13711112222", batch_no="2026091010101")
    make_case(customer_name="钱多多", customer_phone="13833334444")
    desk = as_user("desk")

    def found(q):
        html = desk.get("/cases/", query_string={"q": q}, headers={"HX-Request": "true"}).get_data(as_text=True)
        return sorted(set(re.findall(r"KS\d{4}-\d{6}", html)))

    assert found(first.number) == [first.number]
    assert found("13711112222") == [first.number]
    assert found("2026091010101") == [first.number]
    assert found("春梅") == [first.number]
    assert len(found("水饺")) == 2


# ---------------------------------------------------------------- received time of letters and mail

def test_letter_gets_its_real_received_time_and_the_limit_counts_from_it(app, as_user):
    from portal.cases.states import Step
    from portal.clock import as_utc, local
    from portal.cases.enums import Channel
    from portal.sla.policy import step_due
    typed = local_input(hours_ago=3)
    desk = as_user("desk")
    resp = post_intake(desk, channel="letter", received_at=typed)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    case = db.session.execute(sa.select(Case)).scalar_one()
    received = as_utc(case.received_at)
    assert local(received).strftime("%Y-%m-%dT%H:%M") == typed  # typed as Beijing time, stored UTC
    assert received.utcoffset().total_seconds() == 0
    assert as_utc(case.due_at) == step_due(Step.VERIFY, received, None, Channel.LETTER)
    assert case.overdue  # a letter three hours old has used up the 30 minutes of verification
    page = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert typed.replace("T", " ") in page


@pytest.mark.parametrize("channel, typed, message", [
    pytest.param("letter", "", "「信函」渠道的投诉请填写实际收到时间", id="letter-without-time"),
    pytest.param("email", "future", "实际收到时间不能晚于现在。", id="in-the-future"),
    pytest.param("fax", "31-days-ago", "实际收到时间不能早于 30 天前", id="a-month-ago"),
])
def test_received_time_is_required_for_letters_and_never_in_the_future(app, as_user, channel, typed, message):
    typed = {"future": local_input(hours_ago=-2), "31-days-ago": local_input(days_ago=31)}.get(typed, typed)
    resp = post_intake(as_user("desk"), channel=channel, received_at=typed)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and message in html
    assert 'value="王秀英"' in html  # what the desk typed is kept
    assert count(Case) == 0


def test_hotline_call_and_rep_intake_are_received_now(app, as_user):
    from portal.clock import as_utc, utcnow
    post_intake(as_user("desk"), channel="hotline")
    # A rep cannot backdate: the field is not theirs, and a posted value is ignored.
    post_intake(as_user("rep_cd"), received_at=local_input(hours_ago=5))
    for case in db.session.execute(sa.select(Case)).scalars():
        assert abs((utcnow() - as_utc(case.received_at)).total_seconds()) < 120


def test_received_time_field_is_shown_to_the_desk_only(app, as_user):
    assert 'name="received_at"' in as_user("desk").get("/cases/new").get_data(as_text=True)
    assert 'name="received_at"' not in as_user("rep_cd").get("/cases/new").get_data(as_text=True)


# ---------------------------------------------------------------- resubmission and tampering (no 500s)

def test_resubmitting_after_back_says_the_case_was_already_submitted(app, as_user):
    rep = as_user("rep_cd")
    html = post_intake(rep, files=[("good.jpg", jpeg_bytes())], customer_name="").get_data(as_text=True)
    token = re.search(r'name="upload_token" value="([^"]+)"', html).group(1)
    data = {**FORM, "upload_token": token}
    first = rep.post("/cases/new", data={**data, "csrf_token": csrf_from(rep, "/cases/new")},
                     content_type="multipart/form-data")
    number = first.headers["Location"].rsplit("/", 1)[-1]
    # Back to the form the browser still holds, and submit it once more.
    again = rep.post("/cases/new", data={**data, "csrf_token": csrf_from(rep, "/cases/new")},
                     content_type="multipart/form-data")
    html = again.get_data(as_text=True)
    assert again.status_code == 409, html[:1500]
    assert f"这份投诉已经提交过，编号 {number}。" in html and f'href="/cases/{number}"' in html
    assert 'name="upload_token"' not in html  # the files belong to the first case now
    assert count(Case) == 1 and count(Attachment) == 1


def test_tampered_product_id_gets_a_message_not_a_500(app, as_user):
    resp = post_intake(as_user("rep_cd"), product_id="987654")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "所选产品不在产品目录中，请重新选择产品。" in html
    assert count(Case) == 0


# ---------------------------------------------------------------- upload messages and decompression bombs

def test_several_upload_errors_read_as_sentences_in_chinese_and_english(app, as_user):
    rep = as_user("rep_cd")
    files = [("a.jpg", b"not a photo"), ("b.png", b"not a png either")]
    html = post_intake(rep, files=files).get_data(as_text=True)
    assert "已损坏）。文件「b.png」不是可识别的照片" in html
    assert "。；" not in html
    rep.get("/lang/en")
    html = post_intake(rep, files=files).get_data(as_text=True)
    assert "it is damaged). The file “b.png” is not a recognisable photo" in html
    assert ".;" not in html and ".; " not in html


def huge_png(width: int, height: int) -> bytes:
    """A real, valid greyscale PNG of the given size: all black, so it compresses to a few
    hundred KB however many pixels it claims (what a decompression bomb looks like)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    deflate = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + one byte per pixel
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# 81 MP passes Pillow's own guard (it raises only above twice MAX_IMAGE_PIXELS) and is
# refused by ours; 144 MP is the case of the report (445 KB, 1.27 GB to decode).
@pytest.mark.parametrize("side", [9000, 12000])
def test_decompression_bomb_is_refused_before_decoding(app, as_user, side):
    bomb = huge_png(side, side)
    assert len(bomb) < 1_000_000
    resp = post_intake(as_user("rep_cd"), files=[("炸弹.png", bomb)])
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "照片「炸弹.png」的像素超过 50 百万像素的上限，请缩小后再上传。" in html
    assert count(Case) == 0


def test_a_large_phone_photo_is_still_accepted(app, as_user):
    photo = huge_png(8000, 6000)  # 48 MP, the largest phone sensors
    assert post_intake(as_user("rep_cd"), files=[("大图.png", photo)]).status_code == 303
