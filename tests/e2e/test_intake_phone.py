"""A branch rep on a phone registers a complaint with two photos and a batch number (issue 2)."""
from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import expect

from portal.clock import utcnow
from tests.e2e.conftest import PHONE, drawn_by_noto, noisy_jpeg, platform_fonts

BATCH = "2026090110100"


def this_year() -> int:
    from zoneinfo import ZoneInfo
    return utcnow().astimezone(ZoneInfo("Asia/Shanghai")).year


def fill_customer(page, name="王秀英"):
    page.fill("#customer_name", name)
    page.fill("#customer_phone", "139 1234 5678")
    page.fill("#region", "四川")
    page.fill("#customer_address", "成都市武侯区红旗路 8 号")


def pick_product(page):
    """Type into the catalogue search and tap a live result."""
    page.locator("#product_name").press_sequentially("水饺", delay=30)
    results = page.locator("#product-picker [data-pick-product]")
    # Focusing the field lists the whole catalogue; wait for the answer to what was typed.
    page.wait_for_function("""() => {
        const r = [...document.querySelectorAll('#product-picker [data-pick-product]')];
        return r.length > 0 && r.every(b => b.textContent.includes('水饺')); }""")
    expect(results.filter(has_text="粽子")).to_have_count(0)
    results.filter(has_text="三鲜水饺").tap()
    expect(page.locator("#product-picker [data-pick-product]")).to_have_count(0)
    expect(page.locator("#product_name")).to_have_value("三鲜水饺")
    expect(page.locator("#product_spec")).to_have_value("500g/袋")
    expect(page.locator("#product_id")).not_to_have_value("")


def enter_batch(page):
    page.locator("#batch_no").press_sequentially(BATCH, delay=10)
    expect(page.locator("#batch-lookup")).to_contain_text("生产一部")
    expect(page.locator("#batch-lookup")).to_contain_text("三鲜水饺")


def fill_story(page):
    page.fill("#quantity", "2")
    page.fill("#purchase_place", "红旗超市")
    page.fill("#description", "水饺里吃出一根头发，顾客未食用")
    page.fill("#demand", "退货并赔偿")


def wait_images_loaded(page, selector: str, count: int):
    imgs = page.locator(selector)
    expect(imgs).to_have_count(count)
    for i in range(count):
        imgs.nth(i).scroll_into_view_if_needed()  # thumbnails are loading="lazy"
    page.wait_for_function(
        "([sel, n]) => { const a = [...document.querySelectorAll(sel)];"
        " return a.length === n && a.every(i => i.complete && i.naturalWidth > 0); }",
        arg=[selector, count])


def test_rep_on_phone_submits_case_with_two_photos(login_as, live_server, tmp_path):
    photos = [noisy_jpeg(tmp_path / "缺陷照片.jpg"), noisy_jpeg(tmp_path / "批号和日期.jpg")]
    for p in photos:
        assert 1_000_000 <= p.stat().st_size <= 2_500_000

    page = login_as("rep_cd", **PHONE)
    page.get_by_role("link", name="登记投诉").tap()
    page.wait_for_url("**/cases/new")
    expect(page.locator("h1")).to_have_text("登记投诉")

    fill_customer(page)
    pick_product(page)
    enter_batch(page)
    fill_story(page)

    # Both photos chosen at once, as from the phone's gallery; local previews appear.
    page.set_input_files("#photos", [str(p) for p in photos])
    expect(page.locator("#photo-previews figure")).to_have_count(2)

    # Watch the upload progress bar the app shows. The app's own listener was registered
    # first (portal.js), so reading the bar synchronously here sees what it just drew; each
    # reading is saved at once, because the redirect may come before any later task runs.
    page.evaluate("""() => {
      const seen = [];
      document.addEventListener('htmx:xhr:progress', () => {
        const bar = document.querySelector('#intake progress');
        const label = document.querySelector('#intake [data-progress-label]');
        if (bar) seen.push({hidden: bar.hidden, value: bar.value, max: bar.max,
                            label: label ? label.textContent : ''});
        sessionStorage.setItem('progress', JSON.stringify(seen));
      });
    }""")
    page.get_by_role("button", name="提交投诉").tap()

    number = f"KS{this_year()}-000001"
    page.wait_for_url(f"**/cases/{number}")
    expect(page.locator("h1")).to_have_text(number)
    expect(page.locator(".flash-success")).to_have_text(f"投诉已登记，编号 {number}。")  # once

    progress = page.evaluate("JSON.parse(sessionStorage.getItem('progress') || '[]')")
    shown = [p for p in progress if not p["hidden"] and p["max"] > 1_000_000]
    assert shown, f"upload progress bar never showed: {progress}"
    assert shown[-1]["value"] == shown[-1]["max"] and shown[-1]["label"] == "100%"

    # The two thumbnails are really served and decoded, and the batch is traced to its department.
    expect(page.get_by_role("heading", name="照片（2）")).to_be_visible()
    wait_images_loaded(page, ".gallery img", 2)
    facts = page.locator("dl.facts").first
    expect(facts.locator("dt:text-is('生产批号') + dd")).to_have_text(BATCH)
    expect(facts.locator("dt:text-is('生产部门') + dd")).to_contain_text("生产一部")
    expect(facts.locator("dt:text-is('产品') + dd")).to_contain_text("三鲜水饺")
    case_url = page.url
    thumb_url = page.locator(".gallery img").first.get_attribute("src")

    # A rep of another branch gets the 404 page, for the case and for its photo.
    other = login_as("rep_zz", **PHONE)
    resp = other.goto(case_url)
    assert resp.status == 404
    expect(other.locator("h1")).to_have_text("404")
    expect(other.locator(".error-page")).to_contain_text("页面不存在，或您无权查看")
    assert other.request.get(live_server + thumb_url).status == 404
    expect(other.locator("body")).not_to_contain_text("王秀英")


def test_chinese_renders_in_noto_sans_sc(login_as):
    """Ask Chromium which font it actually drew the heading with (fonts.check() cannot tell)."""
    page = login_as("rep_cd", **PHONE)
    page.goto("/cases/new")
    expect(page.locator("h1")).to_have_text("登记投诉")
    drawn_by_noto(page.context, page, "h1")  # the slices come after the first paint (webfont.js)
    fonts = platform_fonts(page.context, page, "h1")
    assert fonts, "Chromium reports no font for the heading"
    # The @fontsource files carry the family name "Noto Sans SC Thin" in their name table (the
    # variable font's default instance); their weights are really 400 and 700 (usWeightClass).
    assert all(f["familyName"].startswith("Noto Sans SC") for f in fonts), fonts
    assert not any("DejaVu" in f["familyName"] for f in fonts), fonts
    assert all(f["isCustomFont"] for f in fonts), fonts  # the web font from static/, not a system one
    assert sum(f["glyphCount"] for f in fonts) == 4  # 登记投诉: every glyph from that face


def test_validation_error_keeps_text_and_uploaded_photo(login_as, tmp_path):
    photo = noisy_jpeg(tmp_path / "异物.jpg", size=(800, 600))
    page = login_as("rep_cd", **PHONE)
    page.goto("/cases/new")
    fill_customer(page, name="")
    pick_product(page)
    enter_batch(page)
    fill_story(page)
    page.set_input_files("#photos", str(photo))
    page.get_by_role("button", name="提交投诉").tap()

    # The form comes back in place with the error beside the field, in Chinese.
    name_field = page.locator(".field", has=page.locator("#customer_name"))
    expect(name_field.locator(".error")).to_have_text("此项为必填项")
    expect(page.locator("#intake .alert")).to_contain_text("已填写的内容和已上传的文件都已保留")
    assert page.url.endswith("/cases/new")
    # Nothing typed is lost ...
    expect(page.locator("#customer_phone")).to_have_value("139 1234 5678")
    expect(page.locator("#product_name")).to_have_value("三鲜水饺")
    expect(page.locator("#batch_no")).to_have_value(BATCH)
    expect(page.locator("#description")).to_have_value("水饺里吃出一根头发，顾客未食用")
    # ... and the photo the server already has is shown as staged, not asked for again.
    staged = page.locator("#intake .staged figure", has=page.locator("input[name=upload_token]"))
    expect(staged).to_have_count(1)
    expect(staged.locator("figcaption")).to_have_text("✓ 异物.jpg")
    wait_images_loaded(page, "#intake .staged figure img", 1)

    page.fill("#customer_name", "李娜")
    page.get_by_role("button", name="提交投诉").tap()
    number = f"KS{this_year()}-000001"
    page.wait_for_url(f"**/cases/{number}")
    expect(page.get_by_role("heading", name="照片（1）")).to_be_visible()
    wait_images_loaded(page, ".gallery img", 1)
    expect(page.locator("dl.facts").first.locator("dt:text-is('顾客') + dd")).to_contain_text("李娜")

    from portal.cases.models import Attachment, Case
    from portal.extensions import db
    db.session.expire_all()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one() == 1
    names = db.session.execute(sa.select(Attachment.original_name)).scalars().all()
    assert names == ["异物.jpg"]
