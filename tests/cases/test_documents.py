"""The signed sign-off sheet: only for a signed, closed case; cached by content."""
import subprocess

import sqlalchemy as sa

from portal.cases import operations as ops
from portal.cases.models import Case
from portal.extensions import db
from tests.conftest import jpeg_bytes, make_case, propose, to_investigating, user


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
    again = desk.get(f"/cases/{case.number}/signoff.pdf")
    assert again.data == resp.data  # served from the cache, not re-rendered
