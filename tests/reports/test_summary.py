"""The weekly, monthly and daily summaries: their figures against cases made here on known
days, the PDF read back with poppler (embedded font, a page that is not blank, the charts
drawn), the weekly mail received by a real SMTP sink with the PDF attached and sent once,
and the download page."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from portal import clock
from portal.cases.enums import Channel, Klass
from portal.clock import SHANGHAI, local, utcnow
from portal.extensions import db
from portal.reports import svg
from portal.reports.summary import Period, mail_to_leaders, pdf_path, summary_context
from tests.conftest import make_case, signed_in, unit, user
from tests.test_pdf import embedded_fonts, needs_poppler, run


def case_on(day: date, branch: str = "BR-CD", **fields):
    """A case the desk registered at noon (local) on `day`, then given `fields` (klass, channel)."""
    delta = datetime.combine(day, time(12), SHANGHAI) - utcnow()
    clock.travel(delta)
    try:
        case = make_case("desk", branch_id=unit(branch).id)
    finally:
        clock.travel(-delta)
    for name, value in fields.items():
        setattr(case, name, value)
    db.session.commit()
    return case


@pytest.fixture
def week(app):
    """Last week with three cases (two 成都, one 郑州, one of them serious), one the week
    before, two in the same week last year and one three weeks back."""
    w = Period.last_complete("weekly")
    case_on(w.start, "BR-CD")
    case_on(w.start + timedelta(days=3), "BR-CD", klass=Klass.SERIOUS)
    case_on(w.end - timedelta(days=1), "BR-ZZ")
    case_on(w.previous().start + timedelta(days=2), "BR-ZZ")
    ly = w.last_year()
    case_on(ly.start, "BR-CD")
    case_on(ly.start + timedelta(days=1), "BR-CD")
    case_on(w.start - timedelta(days=20), "BR-CD")
    return w


def test_periods_are_local_calendar_weeks_months_and_days():
    w = Period.parse("weekly", "2026-W48")
    assert (w.start, w.end, w.key) == (date(2026, 11, 23), date(2026, 11, 30), "2026-W48")
    assert w.previous().key == "2026-W47" and w.last_year().key == "2025-W48"
    assert Period.parse("weekly", "2026-W01").previous().key == "2025-W52"
    m = Period.parse("monthly", "2026-03")
    assert (m.start, m.end, m.previous().key, m.last_year().key) == (
        date(2026, 3, 1), date(2026, 4, 1), "2026-02", "2025-03")
    assert Period.last_complete("monthly", date(2026, 1, 15)).key == "2025-12"
    assert Period.last_complete("daily", date(2026, 3, 1)).key == "2026-02-28"
    assert Period.parse("daily", "2024-02-29").last_year().key == "2023-02-28"
    for kind, junk in (("weekly", "2026-48"), ("weekly", "2026-W60"), ("monthly", "2026-13"),
                       ("daily", "昨天"), ("yearly", "2026")):
        assert Period.parse(kind, junk) is None


def test_weekly_figures_count_the_cases_of_each_period(week):
    ctx = summary_context(user("leader_qa"), week)
    counts = ctx["counts"]
    assert (counts["now"], counts["previous"], counts["last_year"]) == (3, 1, 2)
    assert counts["vs_previous"] == "+200.0%" and counts["vs_last_year"] == "+50.0%"
    assert ("成都分公司", 2, 0) in ctx["by_branch"] and ("郑州分公司", 1, 1) in ctx["by_branch"]
    assert [c["klass"] for c in ctx["serious"]] == ["严重"]
    assert len(ctx["charts"]) == 4 and all(str(c).startswith("<svg") for c in ctx["charts"])


def test_a_branch_leader_summary_counts_only_their_branch(week):
    from portal.cases.access import visible_clause
    from tests.conftest import make_user
    leader = make_user("leader_cd", "BR-CD", ["leader"], name="成都经理")
    assert visible_clause(leader) is not None
    counts = summary_context(leader, week)["counts"]
    assert (counts["now"], counts["previous"], counts["last_year"]) == (2, 0, 2)


def test_svg_bars_scale_to_a_round_top_and_escape_names():
    chart = str(svg.bars("按分公司", ["<成都>", "郑州"], [("本期", [3, 7]), ("上期", [None, 1])]))
    assert svg.axis(7) == (8, 2) and svg.axis(3) == (3, 1) and svg.axis(0) == (1, 1)
    assert svg.axis(230) == (300, 100) and svg.axis(0.3, integer=False)[1] == pytest.approx(0.1)
    assert "&lt;成都&gt;" in chart and "<成都>" not in chart
    assert chart.count("<rect") == 3 + 2  # three bars (None draws none) and two legend keys


@needs_poppler
def test_weekly_pdf_embeds_the_font_and_draws_its_charts(week, tmp_path):
    path = pdf_path(user("leader_qa"), week)
    assert path.read_bytes().startswith(b"%PDF")
    fonts = embedded_fonts(path)
    assert any(name.split("+")[-1].startswith("Portal-CJK") and embedded and subset
               for name, embedded, subset in fonts), fonts
    assert not any("DejaVu" in name for name, _, _ in fonts), fonts
    text = "".join(run("pdftotext", str(path), "-").split())  # the title is letter-spaced
    assert "客诉周报" in text and "".join(week.label.split()) in text
    assert "按分公司" in text  # the chart's title, drawn in the SVG

    run("pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", "-singlefile", str(path), str(tmp_path / "page"))
    page = Image.open(tmp_path / "page.png").convert("RGB")
    dark = sum(page.convert("L").histogram()[:128])
    assert dark > 0.01 * page.width * page.height
    # The bars are drawn in the palette's blue: the charts are on the page, not only their titles.
    blue = sum(1 for r, g, b in page.get_flattened_data() if b > 150 and r < 90 and 90 < g < 140)
    assert blue > 200, blue
    assert pdf_path(user("leader_qa"), week) == path  # same content: the cached file


def test_weekly_summary_is_mailed_to_leaders_once_with_the_pdf(week, smtp_sink):
    from portal.notify.delivery import deliver_due
    from portal.notify.models import OutboxMessage
    deliver_due()  # what the cases' steps sent
    smtp_sink.messages.clear()
    queued = mail_to_leaders("weekly")
    leaders = db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.kind == "summary")).scalars().all()
    assert queued == len(leaders) >= 5
    assert deliver_due() == queued
    db.session.expire_all()
    # Recorded as sent, so the sweep does not take them for lost and send them again.
    assert {m.status for m in leaders} == {"sent"}
    mail = next(m for m in smtp_sink.messages if m["To"] == user("leader_qa").email)
    assert mail["Subject"] == f"【客诉周报】{week.label}"
    text = mail.get_body(("plain",)).get_content()
    assert "附件为" in text and "/reports/summaries/" in text
    [pdf] = [part for part in mail.iter_attachments()]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == f"weekly-{week.key}-" + pdf.get_filename().split("-")[-1]
    assert pdf.get_content().startswith(b"%PDF")

    assert mail_to_leaders("weekly") == 0  # the cron firing again, or a retried job
    assert deliver_due() == 0 and len(smtp_sink.messages) == queued


def test_daily_report_lists_spot_checks_and_is_not_sent_on_a_quiet_day(app):
    from portal.notify.models import OutboxMessage
    from portal.reports.summary import daily_context
    yesterday = Period.last_complete("daily")
    assert mail_to_leaders("daily") == 0  # nothing happened yesterday
    spot = case_on(yesterday.start, channel=Channel.REGULATOR)
    ctx = daily_context(user("leader_qa"), yesterday)
    assert [c["number"] for c in ctx["regulator"]] == [spot.number]
    assert ctx["regulator"][0]["channel"] == "职能部门抽查"
    assert mail_to_leaders("daily") > 0
    row = db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.kind == "summary")).scalars().first()
    assert row.attachment.startswith("summaries/daily-") and row.subject.startswith("【监管抽查与严重投诉日报】")


def test_summary_page_downloads_any_period_and_refuses_bad_ones(week, app):
    client, _token = signed_in(app, "leader_qa")
    page = client.get("/reports/summaries/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"period={week.key}" in html and "汇总报告" in html
    pdf = client.get(f"/reports/summaries/download?kind=weekly&period={week.key}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    bad = client.get("/reports/summaries/download?kind=weekly&period=48")
    assert bad.status_code == 400 and "周报如 2026-W48" in bad.get_data(as_text=True)
    future = local(utcnow()).date() + timedelta(days=40)
    later = client.get(f"/reports/summaries/download?kind=monthly&period={future:%Y-%m}")
    assert later.status_code == 400 and "尚未开始" in later.get_data(as_text=True)
    client, _token = signed_in(app, "rep_cd")
    assert client.get("/reports/summaries/").status_code == 403


@needs_poppler
def test_monthly_and_daily_pdfs_print_their_period(week):
    from portal.reports.summary import daily_context
    month = Period.containing("monthly", week.start)
    text = "".join(run("pdftotext", str(pdf_path(user("leader_qa"), month)), "-").split())
    assert "客诉月报" in text and f"{month.start.year}年{month.start.month}月" in text and "按责任部门" in text
    day = Period.containing("daily", week.start + timedelta(days=3))
    assert [c["klass"] for c in daily_context(user("leader_qa"), day)["serious_today"]] == ["严重"]
    text = "".join(run("pdftotext", str(pdf_path(user("leader_qa"), day)), "-").split())
    assert "监管抽查与严重投诉日报" in text and "当日严重投诉（1件）" in text


def test_cron_sends_last_weeks_summary_on_monday_morning_local_time(redis_url):
    from redis import Redis
    from rq.cron import CronScheduler
    from tests.conftest import ROOT
    scheduler = CronScheduler(connection=Redis.from_url(redis_url))
    scheduler.load_config_from_file(str(ROOT / "jobs" / "cron.py"))
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    weekly = local(jobs["jobs.summaries.send_weekly"].get_next_enqueue_time())
    assert (weekly.weekday(), weekly.hour, weekly.minute) == (0, 8, 30)
    monthly = local(jobs["jobs.summaries.send_monthly"].get_next_enqueue_time())
    assert (monthly.day, monthly.hour) == (1, 9)
    assert local(jobs["jobs.summaries.send_daily"].get_next_enqueue_time()).hour == 8


def test_corrective_action_sheets_count_in_the_period_they_were_issued_and_closed(app):
    from tests.conftest import make_sheet_at
    issued_on = local(utcnow()).date()
    sheet = make_sheet_at("closed")  # verified and closed 8 days after it was issued
    closed_on = local(sheet.closed_at).date()
    issued = summary_context(user("leader_qa"), Period.containing("weekly", issued_on))["sheets"]
    assert (issued["opened"], issued["closed"], [r["number"] for r in issued["rows"]]) == (1, 0, [sheet.number])
    closed = summary_context(user("leader_qa"), Period.containing("weekly", closed_on))["sheets"]
    assert (closed["opened"], closed["closed"], closed["open_now"]) == (0, 1, 0)
