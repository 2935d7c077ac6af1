"""The corrective-action sheet's PDF (纠正预防单): every field and signature in our embedded
Chinese face, 草稿 until the third signature, downloaded under the sheet's own access rules."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from PIL import ImageChops

from portal import clock
from portal.capa import operations as capa
from portal.clock import fmt, local, utcnow
from portal.extensions import db
from tests.conftest import (PASSWORD, SHEET_WHYS, jpeg_bytes, make_sheet_at, make_stored_file, make_user,
                            user)
from tests.pdf.pdfcheck import fonts, ink, needs_poppler, pages, run, text, watermark_red, write

# Blue and green: the photos must not look like the red 草稿 watermark to pdfcheck.
PHOTO_COLOURS = [(40, 90, 190), (30, 140, 80), (60, 60, 160), (20, 120, 120)]


def photos(n: int) -> list:
    return [make_stored_file(f"现场{i + 1}.jpg", jpeg_bytes((1600, 1200), PHOTO_COLOURS[i % 4]))
            for i in range(n)]


def download(client, sheet, tmp_path: Path, name: str = "sheet.pdf") -> Path:
    resp = client.get(f"/ca/{sheet.number}/pdf")
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    assert resp.headers["Cache-Control"] == "private, no-store"
    return write(tmp_path / name, resp.data)


@needs_poppler
def test_closed_sheet_prints_every_field_and_signature_in_the_embedded_face(app, as_user, tmp_path):
    sheet = make_sheet_at("closed", photos=photos(4))
    pdf = download(as_user("quality"), sheet, tmp_path)

    # Chinese in the GB2312 cut of Noto Sans SC, embedded as a subset; nothing else stands in
    # (no DejaVu or other system face), and no full font for a sheet that needs none.
    faces = fonts(pdf)
    assert faces and all(embedded for _, embedded in faces), faces
    assert {name for name, _ in faces} <= {"Portal-CJK", "Portal-CJK-Bold"}, faces

    printed = text(pdf)
    flat = re.sub(r"\s+", "", printed)
    assert sheet.number in printed and "生产一部" in printed
    for signer in ("李强", "陈刚"):  # quality issued and verified; the leader approved
        assert signer in printed
    chain = [flat.index(why) for why in SHEET_WHYS]  # the whole 5-Why chain, in order
    assert chain == sorted(chain)
    assert "根本原因" in printed and "有效" in printed and "待签" not in printed and "本步时限" not in printed
    assert sheet.cases[0].number in printed

    shown = pages(pdf)
    assert ink(shown[0]) > 0.03  # page 1 is drawn, not blank
    assert all(watermark_red(p) == 0 for p in shown)  # signed and closed: no 草稿
    images = [row.split() for row in run("pdfimages", "-list", pdf).splitlines()[2:]]
    assert len([r for r in images if r[2] == "image"]) == 4  # the four evidence photos


@needs_poppler
def test_sheet_is_a_draft_until_the_verifier_signs(app, as_user, tmp_path):
    sheet = make_sheet_at("approved")
    quality = as_user("quality")
    draft = download(quality, sheet, tmp_path, "draft.pdf")
    assert all(watermark_red(p) > 0.01 for p in pages(draft))
    printed = text(draft)
    assert "李强" in printed and "陈刚" in printed and "待签" in printed  # the verifier's box is empty
    assert "本步时限" in printed and fmt(sheet.due_at) in printed  # quality's verification is due then

    clock.travel(timedelta(days=8))
    capa.verify(sheet, user("quality"), sheet.version, password=PASSWORD, effective=True,
                evidence="抽检合格", verified_on=local(utcnow()).date())
    final = download(as_user("quality"), sheet, tmp_path, "final.pdf")  # a new session: 8 days on
    assert all(watermark_red(p) == 0 for p in pages(final))


@needs_poppler
def test_closed_sheet_without_photos_is_small_and_downloads_as_signed_from_the_cache(app, as_user, tmp_path):
    sheet = make_sheet_at("closed")
    quality = as_user("quality")
    first = quality.get(f"/ca/{sheet.number}/pdf")
    assert len(first.data) <= 600 * 1024, len(first.data)
    cache = Path(app.config["PDF_CACHE_DIR"]) / "ca"
    files = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.glob(f"{sheet.number}-*.pdf")}
    assert len(files) == 1
    clock.travel(timedelta(minutes=5))  # a new render would print another 生成时间
    # The closed sheet is frozen as signed: a later change of a name on it is not a new sheet.
    owner = user("handler_prod1")
    owner.name = "赵磊磊"
    db.session.commit()
    again = quality.get(f"/ca/{sheet.number}/pdf")
    assert again.data == first.data
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.glob(f"{sheet.number}-*.pdf")} == files


@needs_poppler
def test_rare_name_prints_as_its_own_glyph_in_the_full_face(app, as_user, tmp_path):
    owner = make_user("handler_rare", "PROD1", ["handler"], name="王堃")
    sheet = make_sheet_at("responded", owner=owner)
    quality = as_user("quality")
    glyphs = []
    for name in ("王堃", "王喆"):  # neither 堃 nor 喆 is in GB2312
        owner.name = name
        db.session.commit()
        pdf = download(quality, sheet, tmp_path, f"{name}.pdf")
        faces = {face for face, _ in fonts(pdf)}
        assert "Portal-CJK-Full" in faces and not any("DejaVu" in f for f in faces), faces
        assert name in text(pdf)
        glyphs.append(word_raster(pdf, name))
    # Each is inked as itself: a missing glyph would print the same empty box for both.
    assert all(ink(g) > 0.1 for g in glyphs)
    size = tuple(map(min, glyphs[0].size, glyphs[1].size))
    diff = ImageChops.difference(*(g.convert("L").crop((0, 0, *size)) for g in glyphs))
    assert sum(diff.histogram()[96:]) > 0.1 * size[0] * size[1]


def word_raster(pdf: Path, word: str, dpi: int = 150):
    """The rare (second) half of the first `word` on its page, rasterised."""
    html = run("pdftotext", "-bbox", pdf, "-")
    for number, page in enumerate(html.split("<page ")[1:], start=1):
        m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                      + re.escape(word) + "</word>", page)
        if m:
            x0, y0, x1, y1 = map(float, m.groups())
            shown = pages(pdf, dpi=dpi)[number - 1]
            return shown.crop(tuple(round(v * dpi / 72) for v in ((x0 + x1) / 2, y0, x1, y1)))
    raise AssertionError(f"{word} not in the PDF's text")


@needs_poppler
def test_pdf_follows_the_sheet_s_access_rules(app, as_user, tmp_path):
    # Issued for a 成都 case that is not yet any department's: 生产一部 sees the sheet (it
    # was sent to them) but may not open the case, so only its number is on their copy.
    sheet = make_sheet_at("issued", case_stage="verified")
    case = sheet.cases[0]
    assert as_user("rep_bj").get(f"/ca/{sheet.number}/pdf").status_code == 404  # another branch
    assert as_user("handler_prod2").get(f"/ca/{sheet.number}/pdf").status_code == 404  # another department

    rep = text(download(as_user("rep_cd"), sheet, tmp_path, "rep.pdf"))  # the case's own branch
    assert case.number in rep and case.description in rep and "成都" in rep
    leader = text(download(as_user("leader_prod1"), sheet, tmp_path, "leader.pdf"))
    assert case.number in leader and case.description not in leader and "无权查看" in leader


@needs_poppler
def test_sheet_names_the_cases_and_no_customer(app, as_user, tmp_path):
    # As on the sheet's page: the complaint is there, who made it is not, whoever reads it.
    sheet = make_sheet_at("issued")
    for username in ("desk", "quality", "leader_prod1"):
        printed = text(download(as_user(username), sheet, tmp_path, f"{username}.pdf"))
        assert sheet.cases[0].description in printed, username
        assert "王秀英" not in printed and "5678" not in printed, username


@needs_poppler
def test_flask_pdf_writes_a_corrective_action_sheet(app, runner, tmp_path):
    sheet = make_sheet_at("responded")
    out = tmp_path / "ca.pdf"
    result = runner.invoke(args=["pdf", sheet.number, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "草稿" in result.output and sheet.number in text(out)
    result = runner.invoke(args=["pdf", sheet.number, "-o", str(out), "--as", "handler_prod2"])
    assert result.exit_code != 0 and "无权查看" in result.output


@needs_poppler
def test_8d_sheet_prints_team_containment_both_root_causes_and_the_return(app, as_user, tmp_path):
    from portal.capa.states import Layout
    from tests.conftest import make_case_at, unit
    case = make_case_at("dispatched")
    sheet = capa.issue_sheet(user("quality"), PASSWORD, receiving_unit_id=unit("PROD1").id,
                             nonconformity="水饺中吃出头发", case_numbers=[case.number], layout=Layout.EIGHT_D)
    eight_d = {"team": [{"name": "赵磊", "role": "组长"}, {"name": "孙悦", "role": "品保"}],
               "containment": [{"location": "成都仓", "suspect_qty": 1200, "action": "冻结待检"}],
               "root_cause_occurrence": "发帽缺货无人补", "root_cause_escape": "出厂检验不查发帽"}
    answer = dict(investigation="早班记录", whys=SHEET_WHYS[:2], correction="复检", prevention="点检",
                  owner_id=user("handler_prod1").id, due_date=local(utcnow()).date() + timedelta(days=7),
                  eight_d=eight_d)
    capa.respond(sheet, user("handler_prod1"), sheet.version, **answer)
    capa.send_back(sheet, user("leader_prod1"), sheet.version, password=PASSWORD, comment="围堵范围不够")
    capa.respond(sheet, user("handler_prod1"), sheet.version, **answer)

    printed = text(download(as_user("quality"), sheet, tmp_path))
    flat = re.sub(r"\s+", "", printed)
    marks = [flat.index(mark) for mark in ("8D报告", "D1小组成员", "D2问题描述", "D3围堵措施", "D4根本原因",
                                           "D6纠正措施", "D7预防措施", "D8效果验证")]
    assert marks == sorted(marks)  # the eight disciplines in their order
    assert "赵磊（组长）" in flat and "孙悦（品保）" in flat
    assert "成都仓" in printed and "1200" in printed and "冻结待检" in printed
    assert "发帽缺货无人补" in flat and "出厂检验不查发帽" in flat
    # The return is on paper: its signature in the record, with the leader's reason.
    assert "签字记录" in flat and "驳回" in flat and "围堵范围不够" in flat


def ink_png(size, colour) -> bytes:
    """A stroke on transparent ground, as a signature pad or a scanned seal gives."""
    import io
    from PIL import Image, ImageDraw
    image = Image.new("RGBA", size, (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(10, size[1] - 20), (size[0] // 2, 15), (size[0] - 10, size[1] - 25)],
                               fill=colour, width=8)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


@needs_poppler
def test_leader_s_signature_and_seal_print_beside_the_printed_name(app, as_user, tmp_path):
    import io
    from werkzeug.datastructures import FileStorage
    from portal.signing import faces
    leader = user("leader_prod1")
    for kind, png in (("signature", ink_png((600, 200), (20, 30, 120, 255))),
                      ("seal", ink_png((300, 300), (20, 90, 40, 255)))):
        faces.set_face(leader, kind, faces.store_upload(FileStorage(io.BytesIO(png), filename=f"{kind}.png"), kind))
    sheet = make_sheet_at("approved")
    pdf = download(as_user("quality"), sheet, tmp_path)
    images = [row.split() for row in run("pdfimages", "-list", pdf).splitlines()[2:]]
    # No photos on this sheet: the images are the leader's signature and seal in the 批准 box.
    assert len([r for r in images if r[2] == "image"]) == 2, images
    assert "陈刚" in text(pdf)  # the printed name stays beside them


@needs_poppler
def test_sheet_for_a_whole_batch_prints_what_the_register_knows_of_it(app, as_user, tmp_path):
    from portal.batches.lookup import find_batch
    from tests.conftest import unit
    sheet = capa.issue_sheet(user("quality"), PASSWORD, receiving_unit_id=unit("PROD1").id,
                             nonconformity="同批号多起异物投诉", batch_no="2026090110100")
    batch = find_batch("2026090110100")
    flat = re.sub(r"\s+", "", text(download(as_user("quality"), sheet, tmp_path)))
    assert "整批签发" in flat and "2026090110100" in flat
    for shown in (batch.product.name, batch.production_date.isoformat(), batch.production_unit.name,
                  batch.line, batch.shift, "、".join(batch.shipped_regions)):
        assert shown in flat, shown
