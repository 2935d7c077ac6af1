"""The case sign-off sheet says 草稿 on every page until the leader's sign-off is in, and
`flask pdf` prints either from the shell."""
from __future__ import annotations

from pathlib import Path

from portal.cases.documents import signoff_pdf_path
from tests.conftest import make_case_at
from tests.pdf.pdfcheck import fonts, ink, needs_poppler, pages, text, watermark_red, write

FULL, MASKED = "13912345678", "139****5678"


@needs_poppler
def test_unsigned_case_sheet_is_a_draft_on_every_page(app):
    case = make_case_at("approved")  # approved by the leader, not yet signed off
    draft = signoff_pdf_path(case, full_phone=True, drafts=True)
    assert "draft" in draft.name
    shown = pages(draft)
    assert all(watermark_red(p) > 0.01 for p in shown), [watermark_red(p) for p in shown]
    # The watermark is drawn rotated, so pdftotext gives its two characters apart.
    assert {"草", "稿"} <= set(text(draft))
    # The web download still waits for the signature: a draft is never served as the sheet.
    assert signoff_pdf_path(case, full_phone=True) is None


@needs_poppler
def test_signed_off_case_sheet_has_no_watermark(app):
    case = make_case_at("closed")
    final = signoff_pdf_path(case, full_phone=True, drafts=True)
    assert final == signoff_pdf_path(case, full_phone=True)  # the same cached file
    assert all(watermark_red(p) == 0 for p in pages(final))
    assert "稿" not in text(final)


@needs_poppler
def test_flask_pdf_writes_a_case_sheet(app, runner, tmp_path):
    case = make_case_at("closed")
    out = tmp_path / "sheet.pdf"
    result = runner.invoke(args=["pdf", case.number, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"已写入 {out}" in result.output and "草稿" not in result.output
    assert out.read_bytes().startswith(b"%PDF")
    printed = text(out)
    assert case.number in printed and FULL in printed  # the shell prints the whole record

    # As a leader would download it: the phone masked as on the leader's page.
    result = runner.invoke(args=["pdf", case.number, "-o", str(out), "--as", "leader_prod1"])
    assert result.exit_code == 0, result.output
    printed = text(out)
    assert MASKED in printed and FULL not in printed


@needs_poppler
def test_flask_pdf_marks_an_open_case_as_draft(app, runner, tmp_path):
    case = make_case_at("dispatched")
    out = tmp_path / "draft.pdf"
    result = runner.invoke(args=["pdf", case.number.lower(), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "草稿" in result.output
    assert all(watermark_red(p) > 0.01 for p in pages(out))


def test_flask_pdf_refuses_unknown_numbers_and_viewers_without_access(app, runner, tmp_path):
    case = make_case_at("closed")
    out = tmp_path / "x.pdf"
    result = runner.invoke(args=["pdf", "KS2000-999999", "-o", str(out)])
    assert result.exit_code != 0 and "没有投诉 KS2000-999999" in result.output
    # The 郑州 rep cannot see a 成都 case, so the shell will not print it for them either.
    result = runner.invoke(args=["pdf", case.number, "-o", str(out), "--as", "rep_zz"])
    assert result.exit_code != 0 and "无权查看" in result.output
    result = runner.invoke(args=["pdf", case.number, "-o", str(out), "--as", "nobody"])
    assert result.exit_code != 0 and "没有用户 nobody" in result.output
    assert not Path(out).exists()


@needs_poppler
def test_signed_sheet_holds_number_department_and_signers_in_the_embedded_face(app, as_user, tmp_path):
    case = make_case_at("closed")
    resp = as_user("desk").get(f"/cases/{case.number}/signoff.pdf")
    pdf = write(tmp_path / "signed.pdf", resp.data)
    faces = fonts(pdf)
    assert faces and all(embedded for _, embedded in faces), faces
    assert {name for name, _ in faces} <= {"Portal-CJK", "Portal-CJK-Bold"}, faces  # nothing else
    printed = text(pdf)
    assert case.number in printed and "生产一部" in printed
    assert "陈刚" in printed  # approved and signed off by 生产一部's leader
    assert ink(pages(pdf)[0]) > 0.03


@needs_poppler
def test_rare_customer_name_pulls_in_the_full_face_only_for_that_sheet(app, as_user, tmp_path):
    from tests.conftest import make_case
    rare = make_case(customer_name="张喆")
    common = make_case()
    for case in (rare, common):
        case_pdf = signoff_pdf_path(case, full_phone=True, drafts=True)
        full = "Portal-CJK-Full" in {name for name, _ in fonts(case_pdf)}
        assert full == (case is rare), fonts(case_pdf)
    assert "张喆" in text(signoff_pdf_path(rare, full_phone=True, drafts=True))
