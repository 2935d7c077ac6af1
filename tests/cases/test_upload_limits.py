"""The evidence limits of intake, at their real values (config.py): 15 MB a file, 60 MB and
20 files a case, and a request over 64 MB answered with the portal's own Chinese 413 page."""
import re

from portal.cases.models import Attachment, Case
from tests.conftest import count, jpeg_bytes, jpeg_of_size, post_intake

MB = 1024 * 1024


def error_text(resp) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True)))


def test_a_photo_of_15_mb_is_taken_one_byte_more_is_refused(app, as_user):
    rep = as_user("rep_cd")
    assert post_intake(rep, files=[("刚好.jpg", jpeg_of_size(15 * MB))]).status_code == 303
    assert count(Attachment) == 1

    resp = post_intake(rep, files=[("太大.jpg", jpeg_of_size(15 * MB + 1))])
    assert resp.status_code == 400
    assert "太大.jpg" in error_text(resp) and "超过单个文件" in error_text(resp)
    assert count(Case) == 1 and count(Attachment) == 1  # nothing of the refused intake stored


def test_more_than_60_mb_for_one_case_is_refused(app, as_user):
    # Five photos of 12.5 MB: each within its own limit, 62.5 MB together (the request,
    # under 64 MB, still gets through to the check).
    resp = post_intake(as_user("rep_cd"), files=[(f"照片{i}.jpg", jpeg_of_size(12 * MB + MB // 2))
                                                 for i in range(5)])
    assert resp.status_code == 400
    assert "附件总大小超过每个投诉 60 MB 的上限" in error_text(resp)
    assert count(Case) == 0 and count(Attachment) == 0


def test_twenty_photos_are_taken_the_twenty_first_is_refused(app, as_user):
    rep = as_user("rep_cd")
    photos = [(f"照片{i}.jpg", jpeg_bytes((64, 48))) for i in range(21)]
    resp = post_intake(rep, files=photos)
    assert resp.status_code == 400 and "附件数量超过每个投诉 20 个的上限" in error_text(resp)
    assert count(Case) == 0

    assert post_intake(rep, files=photos[:20]).status_code == 303
    assert count(Attachment) == 20


def test_a_request_over_the_size_limit_gets_the_portals_chinese_413_page(app, as_user):
    resp = post_intake(as_user("rep_cd"), files=[("录像.jpg", jpeg_of_size(65 * MB))])
    assert resp.status_code == 413
    html = resp.get_data(as_text=True)
    # The portal's page (its layout, the signed-in user's navigation), not the server's bare one.
    assert '<html lang="zh-CN">' in html and '<nav class="nav"' in html
    assert "上传的文件太大：单个文件不超过 15 MB，一次提交不超过 60 MB。" in html
    assert "Request Entity Too Large" not in html
    assert count(Case) == 0


def test_the_413_page_is_english_for_english_readers(app, as_user):
    rep = as_user("rep_cd")
    rep.get("/lang/en")
    resp = post_intake(rep, files=[("video.jpg", jpeg_of_size(65 * MB))])
    assert resp.status_code == 413
    html = resp.get_data(as_text=True)
    assert '<html lang="en">' in html and "too large" in html.lower()
