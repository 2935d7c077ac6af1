"""The signed sign-off sheet prints Chinese in our embedded font and loads nothing it should not."""

import re
import shutil
import subprocess
import time
from datetime import datetime, timezone

import pytest
from PIL import Image, ImageChops, ImageDraw

from portal.pdf import RestrictedURLFetcher, URLRefused, content_hash, render_pdf

needs_poppler = pytest.mark.skipif(
    not shutil.which("pdffonts"), reason="poppler-utils (pdffonts, pdftotext, pdftoppm) not installed")


def make_photo(path):
    image = Image.new("RGB", (320, 240), (236, 228, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 40, 260, 200), fill=(180, 60, 40))
    draw.ellipse((140, 100, 180, 140), fill=(30, 30, 30))
    image.save(path, "JPEG", quality=80)
    return str(path)


def make_signature(path):
    image = Image.new("RGBA", (300, 100), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(10, 70), (60, 20), (90, 80), (140, 30), (190, 75), (280, 40)],
              fill=(20, 30, 120, 255), width=5)
    image.save(path, "PNG")
    return str(path)


def signoff_context(uploads, timeline_rows=6):
    photo = make_photo(uploads / "photo-1.jpg")
    signature = make_signature(uploads / "sig-leader.png")
    case = {
        "number": "KS2026-000123",
        "received_at": "2026-03-02 09:41",
        "channel": "800热线",
        "kind": "投诉",
        "klass": "主要",
        "category": "产品质量 / 异物",
        "validity": "成立",
        "registered_by": "陈静（客服专员）",
        "branch": "华东分公司",
        "customer_name": "刘晓燕",
        "customer_phone": "138****5621",
        "customer_address": "上海市浦东新区张杨路1588号3栋1202室",
        "region": "上海",
        "customer_type": "消费者",
        "product_name": "原味酸奶",
        "product_spec": "200g×12",
        "batch_no": "B20260215-03",
        "production_date": "2026-02-15",
        "quantity": "2 箱",
        "purchase_place": "联华超市浦东店",
        "purchase_date": "2026-02-27",
        "description": "客户开盒后发现一瓶内有黑色异物，约3mm，已拍照留存。\n其余11瓶外观正常。",
        "demand": "退货并赔偿，要求书面说明原因。",
        "responsible_unit": "生产部二车间",
        "responsible_person": "王建国",
        "findings": "追溯批号B20260215-03，当日灌装线3号过滤网破损。",
        "root_cause": "过滤网点检记录漏项，未及时更换。",
        "responsibility": "生产责任",
        "solution_form": "退货 + 补偿",
        "compensation": "￥200.00 及同款产品 2 箱",
        "implementation": "3月5日业务员上门退换并送达书面说明。",
        "callback_result": "客户已收到补偿，认可处理结果",
        "satisfaction": "质量 4 · 办理快 5 · 态度 5",
        "callback_comment": "",
        "closed_at": "2026-03-06 16:20",
        "callback_rejections": None,
        "ladder_level": None,
    }
    actions = ["登记", "核实", "分派", "调查", "提出方案", "批准", "落实", "回访", "签字结案"]
    timeline = [
        {"at": f"2026-03-{2 + i // 4:02d} {9 + i % 8:02d}:{(i * 7) % 60:02d}",
         "actor": ["陈静", "王建国", "赵敏", "李卫东"][i % 4],
         "action": actions[i % len(actions)],
         "note": "按程序办理，记录已归档。" if i % 3 else ""}
        for i in range(timeline_rows)
    ]
    signatures = [
        {"meaning": "批准", "printed_name": "李卫东", "role": "质量部 部门领导",
         "signed_at": "2026-03-04 11:02", "content_hash": "9f" * 32,
         "comment": "同意按方案处理，生产部一周内提交纠正预防单。", "image_path": signature},
        {"meaning": "签字", "printed_name": "赵敏", "role": "客服部 部门领导",
         "signed_at": "2026-03-06 16:20", "content_hash": "3c" * 32,
         "comment": "", "image_path": None},
    ]
    context = {
        "company_name": "华安食品股份有限公司",
        "generated_at": "2026-03-06 16:21",
        "case": case,
        "photos": [{"path": photo, "caption": "异物特写"}],
        "timeline": timeline,
        "signatures": signatures,
    }
    context["content_hash"] = content_hash(context)
    return context


def run(*command):
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def embedded_fonts(pdf_path):
    """(name, embedded, subset) per line of pdffonts; its last five columns are fixed."""
    rows = run("pdffonts", str(pdf_path)).splitlines()[2:]
    return [(row.split()[0], row.split()[-5] == "yes", row.split()[-4] == "yes") for row in rows]


@needs_poppler
def test_signoff_sheet_prints_chinese_in_embedded_subset_font(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    context = signoff_context(uploads)

    started = time.perf_counter()
    pdf = render_pdf("case_signoff", context, allowed_roots=[uploads])
    print(f"case_signoff rendered in {time.perf_counter() - started:.2f} s, {len(pdf):,} bytes")

    assert pdf.startswith(b"%PDF")
    pdf_path = tmp_path / "signoff.pdf"
    pdf_path.write_bytes(pdf)

    # WeasyPrint names an embedded font after its CSS family, so our Noto Sans SC files
    # show up as "Portal-CJK"; that family exists only through pdf_templates/fonts/fonts.css.
    fonts = embedded_fonts(pdf_path)
    assert any(name.split("+")[-1].startswith("Portal-CJK") and embedded and subset
               for name, embedded, subset in fonts), fonts
    assert not any("DejaVu" in name for name, _, _ in fonts), fonts

    text = run("pdftotext", "-layout", str(pdf_path), "-")
    assert "刘晓燕" in text
    assert "签字" in text
    assert "KS2026-000123" in text
    assert "内容哈希 " + context["content_hash"][:16] in text


@needs_poppler
def test_signoff_sheet_first_page_is_not_blank(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    pdf_path = tmp_path / "signoff.pdf"
    pdf_path.write_bytes(render_pdf("case_signoff", signoff_context(uploads), allowed_roots=[uploads]))

    run("pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", "-singlefile",
        str(pdf_path), str(tmp_path / "page"))
    page = Image.open(tmp_path / "page.png").convert("L")
    dark = sum(page.histogram()[:128])
    assert dark > 0.02 * page.width * page.height


def word_box(pdf_path, word):
    """(page number, xMin, yMin, xMax, yMax) in points of the first `word` pdftotext finds."""
    html = run("pdftotext", "-bbox", str(pdf_path), "-")
    for number, page in enumerate(html.split("<page ")[1:], start=1):
        m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                      + re.escape(word) + "</word>", page)
        if m:
            return (number, *map(float, m.groups()))
    raise AssertionError(f"{word} not in the PDF's text")


def raster(pdf_path, tmp_path, page, box, dpi=150) -> Image.Image:
    """The part of the rasterised page inside `box` (points), in grey."""
    out = tmp_path / f"{pdf_path.stem}-raster"
    run("pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", str(page), "-l", str(page), "-singlefile",
        str(pdf_path), str(out))
    image = Image.open(out.with_suffix(".png")).convert("L")
    return image.crop(tuple(round(v * dpi / 72) for v in box))


def dark_share(image: Image.Image) -> float:
    return sum(image.histogram()[:128]) / (image.width * image.height)


def full_face_embedded(pdf_path) -> bool:
    return any(name.split("+")[-1] == "Portal-CJK-Full" and embedded
               for name, embedded, _ in embedded_fonts(pdf_path))


@needs_poppler
def test_rare_character_outside_gb2312_falls_back_to_full_font(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    context = signoff_context(uploads)

    def sheet(name: str):
        context["case"]["customer_name"] = name
        path = tmp_path / f"{len(list(tmp_path.glob('*.pdf')))}.pdf"
        path.write_bytes(render_pdf("case_signoff", context, allowed_roots=[uploads]))
        return path

    common = sheet("王秀英")  # all in GB2312: the subset face is enough
    assert not full_face_embedded(common), embedded_fonts(common)

    # 堃 and 喆 are not in GB2312: the complete Noto Sans SC face ("Portal CJK Full", fonts.css)
    # is embedded for them, nothing else stands in.
    glyphs = []
    for name in ("王堃", "王喆"):
        pdf = sheet(name)
        assert full_face_embedded(pdf), embedded_fonts(pdf)
        assert not any("DejaVu" in font for font, _, _ in embedded_fonts(pdf))
        assert name in run("pdftotext", str(pdf), "-")
        page, x0, y0, x1, y1 = word_box(pdf, name)
        glyphs.append(raster(pdf, tmp_path, page, ((x0 + x1) / 2, y0, x1, y1)))  # the rare half
    # On the page each is inked as itself: a missing glyph would print the same empty box
    # for both.
    assert all(dark_share(g) > 0.1 for g in glyphs), [dark_share(g) for g in glyphs]
    size = tuple(map(min, glyphs[0].size, glyphs[1].size))
    difference = ImageChops.difference(*(g.crop((0, 0, *size)) for g in glyphs))
    assert sum(difference.histogram()[96:]) > 0.1 * size[0] * size[1]


def test_fetcher_refuses_files_outside_allowed_roots(tmp_path):
    fetcher = RestrictedURLFetcher([tmp_path])
    with pytest.raises(URLRefused):
        fetcher.fetch("file:///etc/hostname")
    with pytest.raises(URLRefused):
        fetcher.fetch((tmp_path / ".." / ".." / "etc" / "hostname").as_uri())


def test_fetcher_refuses_symlink_leading_out_of_allowed_root(tmp_path):
    (tmp_path / "evil.png").symlink_to("/etc/hostname")
    with pytest.raises(URLRefused):
        RestrictedURLFetcher([tmp_path]).fetch((tmp_path / "evil.png").as_uri())


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/logo.png", "https://example.com/font.woff2", "ftp://example.com/a",
    "data:text/plain,hello", "file://otherhost/etc/hostname",
])
def test_fetcher_refuses_anything_but_local_files(tmp_path, url):
    with pytest.raises(URLRefused):
        RestrictedURLFetcher([tmp_path]).fetch(url)


def test_fetcher_serves_files_under_allowed_root(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    response = RestrictedURLFetcher([tmp_path]).fetch((tmp_path / "p.jpg").as_uri())
    assert response.read() == open(photo, "rb").read()
    assert response.content_type == "image/jpeg"


@needs_poppler
def test_markup_in_context_is_printed_as_text(tmp_path):
    context = signoff_context(tmp_path)
    context["case"]["description"] = '<img src="file:///etc/passwd">'
    pdf_path = tmp_path / "escaped.pdf"
    pdf_path.write_bytes(render_pdf("case_signoff", context, allowed_roots=[tmp_path]))
    assert '<img src="file:///etc/passwd">' in run("pdftotext", str(pdf_path), "-")


def test_content_hash_ignores_key_order_and_keeps_chinese():
    assert content_hash({"b": 1, "a": "签字"}) == content_hash({"a": "签字", "b": 1})
    assert content_hash({"a": "签字"}) != content_hash({"a": "签"})
    when = datetime(2026, 3, 6, 16, 20, tzinfo=timezone.utc)
    assert content_hash({"at": when}) == content_hash({"at": str(when)})
    assert len(content_hash({"at": when})) == 64
