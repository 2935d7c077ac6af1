"""The pause shows on the case: while the case waits on the submitter or the customer the case
page says its clocks stand, and afterwards lists the pause with its start and end."""
from __future__ import annotations

from datetime import timedelta

from portal.clock import as_utc, fmt
from portal.extensions import db
from portal.sla.pauses import pause_case, resume_case
from tests.conftest import make_case


def test_case_page_shows_the_pause_while_it_lasts_and_after(app, as_user):
    case = make_case("desk")
    client = as_user("desk")
    assert 'id="case-pauses"' not in client.get(f"/cases/{case.number}").get_data(as_text=True)

    started = as_utc(case.received_at) + timedelta(minutes=5)
    pause_case(case, "等待提交人补充信息", started)
    db.session.commit()
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "暂停中" in html and "等待提交人补充信息" in html and fmt(started) in html

    ended = started + timedelta(hours=2)
    resume_case(case, ended)
    db.session.commit()
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "暂停中" not in html and f"{fmt(started)} – {fmt(ended)}" in html
