"""批号追溯 on the case: the register's answer (product, date, department, line, shift, where the
batch was shipped) and the suggested department, which quality confirms or corrects."""
from __future__ import annotations

from tests.conftest import csrf_from, footprint, last_event, make_case_at, post_step, signed_in, unit


def as_(app, username: str):
    client, _ = signed_in(app, username)
    return client, csrf_from(client, "/work")


def test_quality_sees_the_trace_result_and_confirms_it(app):
    case = make_case_at("verified")  # batch 2026090110100 of the demo register
    client, token = as_(app, "quality")
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    panel = page[page.index('id="panel-trace_batch"'):]
    panel = panel[:panel.index("</section>")]
    for fact in ("三鲜水饺 500g/袋", "2026-09-01", "生产一部", "1号线", "早班", "四川、河南、北京",
                 "建议责任部门：生产一部", "确认追溯结果"):
        assert fact in panel, fact
    resp = post_step(client, token, case, "trace_batch")
    assert resp.status_code == 303
    event = last_event(case)
    assert event.action == "batch_traced" and event.note == "2026090110100 → 生产一部 1号线 早班"
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "批号追溯 · 李强" in page  # the panel says who confirmed it


def test_quality_corrects_the_department_with_the_reason_in_the_timeline(app):
    case = make_case_at("verified")
    client, token = as_(app, "quality")
    resp = post_step(client, token, case, "trace_batch", unit_id=str(unit("PROD2").id), line="3号线",
                     reason="当日该批由二部代工")
    assert resp.status_code == 303
    event = last_event(case)
    assert event.action == "trace_corrected"
    assert event.note == "生产二部 3号线（2026090110100 → 生产一部 1号线 早班）：当日该批由二部代工"
    desk, _ = as_(app, "desk")
    html = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "更正批号追溯结果" in html  # the timeline
    assert "批号追溯建议：生产二部" in html  # the dispatch panel suggests the corrected one
    assert "建议责任部门：生产二部" in html  # the trace card the desk sees


def test_a_correction_without_a_reason_is_refused_and_nothing_changes(app):
    case = make_case_at("verified")
    client, token = as_(app, "quality")
    before = footprint(case)
    resp = post_step(client, token, case, "trace_batch", unit_id=str(unit("PROD2").id), reason=" ")
    assert resp.status_code == 400 and "请补全必填项：判断依据" in resp.get_data(as_text=True)
    assert footprint(case) == before


def test_others_see_the_trace_result_on_the_case(app):
    case = make_case_at("dispatched")
    client, _ = as_(app, "rep_cd")
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    card = page[page.index('id="trace"'):]
    card = card[:card.index("</section>")]
    for fact in ("生产一部", "1号线", "早班", "四川、河南、北京", "建议责任部门：生产一部"):
        assert fact in card, fact
    assert "确认追溯结果" not in page  # only quality, and only at dispatch
