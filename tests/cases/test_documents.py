"""The signed sign-off sheet: only for a signed, closed case; cached by content."""
import subprocess
from datetime import timedelta

import sqlalchemy as sa

from portal import clock
from portal.cases import operations as ops
from portal.cases.models import Case
from portal.extensions import db
from tests.conftest import (jpeg_bytes, make_case, make_case_at, make_stored_file, propose,
                            to_investigating, user)


def close(case):
    propose(case)
    ops.record_implementation(case, user("handler_prod1"), case.version, text="已赔偿两袋")
    ops.record_callback(case, user("desk"), case.version, reached=True, satisfied=True,
                        scores={"score_quality": 5}, comment="顾客满意")
    ops.sign_off_case(case, user("leader_prod1"), case.version, password="demo1234", comment="同意结案")
    return case


def test_signoff_pdf_only_after_signed_close(app, as_user, tmp_path):
    case = to_investigating(make_case())
    desk = as_user("desk")
    assert desk.get(f"/cases/{case.number}/signoff.pdf").status_code == 404
    close(case)
    resp = desk.get(f"/cases/{case.number}/signoff.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    pdf = tmp_path / "s.pdf"
    pdf.write_bytes(resp.data)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert case.number in text and "陈刚" in text and "签字" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert "Portal-CJK" in fonts and "DejaVu" not in fonts

    # The second download is the cached file, not a new render: a render five minutes later
    # would print another 生成时间 and replace the file (new inode, new mtime).
    cached = {p: (p.stat().st_ino, p.stat().st_mtime_ns)
              for p in (app.config["PDF_CACHE_DIR"] / "signoff").glob(f"{case.number}-*.pdf")}
    assert cached
    clock.travel(timedelta(minutes=5))
    again = desk.get(f"/cases/{case.number}/signoff.pdf")
    assert again.status_code == 200 and again.data == resp.data
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in (app.config["PDF_CACHE_DIR"] / "signoff").glob(f"{case.number}-*.pdf")} == cached


def test_signoff_sheet_prints_the_case_photos(app, as_user, tmp_path):
    photos = [make_stored_file("异物特写.jpg", jpeg_bytes((1600, 1200), (190, 40, 40))),
              make_stored_file("包装批号.jpg", jpeg_bytes((900, 1200), (40, 90, 190)))]
    case = make_case_at("closed", files=photos)
    resp = as_user("desk").get(f"/cases/{case.number}/signoff.pdf")
    assert resp.status_code == 200
    pdf = tmp_path / "photos.pdf"
    pdf.write_bytes(resp.data)
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]
    # page num type width height color comp bpc enc …: both photos, as thumbnails (not the
    # originals), in their own orientation.
    sizes = sorted((int(row.split()[3]), int(row.split()[4])) for row in listing
                   if row.split()[2] == "image")
    assert len(sizes) == 2, listing
    landscape, portrait = sorted(sizes, key=lambda wh: wh[0] < wh[1])
    assert landscape[0] > landscape[1] and portrait[0] < portrait[1], sizes
    assert max(map(max, sizes)) < 1200, sizes
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "异物特写.jpg" in text and "包装批号.jpg" in text
