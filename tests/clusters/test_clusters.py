"""Batch clusters (批号聚集): several complaints on one batch raise one alert to quality, suggest
the class 严重, and are listed for quality; a rep sees only their own branch's part."""
from __future__ import annotations

import re
import threading
import traceback
from datetime import timedelta

import sqlalchemy as sa

from portal import clock
from portal.clusters.models import BatchCluster, BatchClusterCase, ClusterRule, ClusterTrigger
from portal.extensions import db
from portal.notify.delivery import deliver_messages
from portal.notify.models import OutboxMessage
from portal.signing.models import AuditEvent
from tests.conftest import PASSWORD, csrf_from, make_case, signed_in, unit, user

BATCH = "2026090110100"  # 三鲜水饺, 生产一部 1号线 早班 in the demo register
QUALITY = ("quality", "leader_qa")  # every active quality user is told


def alerts() -> list[OutboxMessage]:
    return db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.kind == "cluster")
                              .order_by(OutboxMessage.id)).scalars().all()


def clusters() -> list[BatchCluster]:
    db.session.expire_all()
    return db.session.execute(sa.select(BatchCluster).order_by(BatchCluster.id)).scalars().all()


def members(cluster) -> set[int]:
    return set(db.session.execute(sa.select(BatchClusterCase.case_id)
                                  .where(BatchClusterCase.cluster_id == cluster.id)).scalars())


def desk_case(branch: str | None = None, **kw):
    """A hotline case, optionally on behalf of a branch (the desk names it)."""
    return make_case("desk", branch_id=unit(branch).id if branch else None, **kw)


def set_rule(**values):
    db.session.add(ClusterRule(**{**ClusterRule.DEFAULTS, **values}))
    db.session.commit()


# ---------------------------------------------------------------- detection and the one alert

def test_third_case_on_a_batch_within_30_days_alerts_quality_once(app, smtp_sink):
    first, second = make_case("rep_cd"), make_case("rep_cd")
    assert clusters() == [] and alerts() == []  # two cases of one branch: not yet

    third = make_case("rep_cd")
    [cluster] = clusters()
    assert cluster.batch_no == BATCH and cluster.trigger == ClusterTrigger.CASES and cluster.is_open
    assert members(cluster) == {first.id, second.id, third.id}
    rows = alerts()
    # One mail and one bell message for each quality user, no more.
    assert sorted((r.recipient.username, r.channel) for r in rows) == sorted(
        (name, channel) for name in QUALITY for channel in ("email", "inapp"))
    mail = next(r for r in rows if r.channel == "email" and r.recipient.username == "quality")
    assert mail.subject == f"【批号预警】批号 {BATCH} 30 天内 3 起投诉"
    assert first.number in mail.body and third.number in mail.body and f"/clusters/{cluster.id}" in mail.body

    # The mail really goes out over SMTP, in Chinese.
    assert deliver_messages([mail.id])[mail.id] == "sent"
    [sent] = smtp_sink.mails_for(mail.id)
    assert sent["To"] == "quality@example.com" and "批号预警" in sent["Subject"]
    # And the bell of quality shows it.
    client, _token = signed_in(app, "quality")
    assert "未读消息 1 条" in client.get("/bell/count").get_data(as_text=True)
    assert mail.subject in client.get("/bell/").get_data(as_text=True)

    fourth = make_case("rep_cd")
    assert len(alerts()) == len(rows)  # the fourth raises none
    [cluster] = clusters()
    assert fourth.id in members(cluster)  # but joins the cluster
    [opened] = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "cluster_opened")).scalars()
    assert opened.object_id == cluster.id and opened.after["cases"] == [first.number, second.number, third.number]


def test_cases_older_than_the_window_do_not_count(app):
    make_case("rep_cd"), make_case("rep_cd")
    clock.travel(timedelta(days=31))
    make_case("rep_cd")
    assert clusters() == [] and alerts() == []
    make_case("rep_cd")
    assert clusters() == []  # two within 30 days
    make_case("rep_cd")
    [cluster] = clusters()
    assert len(members(cluster)) == 3


def test_cases_from_two_branches_raise_one_alert(app):
    cd = make_case("rep_cd")
    assert clusters() == []
    zz = make_case("rep_zz")
    [cluster] = clusters()
    assert cluster.trigger == ClusterTrigger.BRANCHES and members(cluster) == {cd.id, zz.id}
    assert len(alerts()) == 4  # two quality users × mail and bell
    make_case("rep_bj")
    desk_case("BR-CD")
    assert len(clusters()) == 1 and len(alerts()) == 4


def test_other_batches_and_cases_without_a_batch_never_cluster(app):
    for batch_no in ("2026090110100", "2026091010101", None):
        make_case("rep_cd", batch_no=batch_no)
    make_case("rep_cd", batch_no=None), make_case("rep_cd", batch_no=None)
    assert clusters() == []


def test_an_edited_rule_applies_to_later_cases(app):
    set_rule(min_cases=5, window_days=7, min_branches=None)
    for name in ("rep_cd", "rep_cd", "rep_cd", "rep_zz"):  # two branches: that half is off
        make_case(name)
    assert clusters() == []
    make_case("rep_zz")
    [cluster] = clusters()
    assert cluster.rule == {"min_cases": 5, "window_days": 7, "min_branches": None}
    assert len(members(cluster)) == 5


# ---------------------------------------------------------------- pages and scope

def cluster_of_three(branches=("rep_cd", "rep_cd", "rep_cd")):
    cases = [make_case(name, quantity=i + 1) for i, name in enumerate(branches)]
    [cluster] = clusters()
    return cluster, cases


def test_cluster_page_lists_cases_branches_quantities_and_dates(app):
    cluster, cases = cluster_of_three(("rep_cd", "rep_zz", "rep_cd"))
    client, _token = signed_in(app, "quality")
    page = client.get(f"/clusters/{cluster.id}").get_data(as_text=True)
    for case in cases:
        assert case.number in page
    assert "成都分公司" in page and "郑州分公司" in page
    assert "3 起，2 个分公司，涉及数量 6" in page  # 1 + 2 + 3: the third case joined later
    assert "建议类别：严重" in page
    assert "早班" in page and "1号线" in page and "四川、河南、北京" in page  # the batch's trace
    assert f'href="/ca/new?batch_no={BATCH}&amp;cluster={cluster.id}"' in page
    assert "为该批号开纠正预防单" in page
    listing = client.get("/clusters/").get_data(as_text=True)
    assert f"/clusters/{cluster.id}" in listing and "3 起" in listing


def test_case_page_shows_the_cluster_and_the_suggested_class(app):
    cluster, cases = cluster_of_three()
    client, _token = signed_in(app, "desk")
    page = client.get(f"/cases/{cases[0].number}").get_data(as_text=True)
    assert "批号聚集预警" in page and f"/clusters/{cluster.id}" in page
    assert "建议类别：严重" in page


def test_a_rep_sees_no_cluster_of_other_branches(app):
    cluster, _cases = cluster_of_three()  # all 成都
    zz, _token = signed_in(app, "rep_zz")
    assert zz.get(f"/clusters/{cluster.id}").status_code == 404
    assert f"/clusters/{cluster.id}" not in zz.get("/clusters/").get_data(as_text=True)
    cd, _token = signed_in(app, "rep_cd")
    assert cd.get(f"/clusters/{cluster.id}").status_code == 200


def test_a_rep_sees_only_their_branchs_cases_of_a_shared_cluster(app):
    cd_case = make_case("rep_cd")
    zz_case = make_case("rep_zz")
    [cluster] = clusters()
    zz, _token = signed_in(app, "rep_zz")
    page = zz.get(f"/clusters/{cluster.id}").get_data(as_text=True)
    assert zz_case.number in page and cd_case.number not in page
    assert "成都分公司" not in page and "1 起" in page
    case_page = zz.get(f"/cases/{zz_case.number}").get_data(as_text=True)
    assert "已有 1 起投诉" in case_page  # the count follows the rep's scope too


# ---------------------------------------------------------------- quality's decisions

def post(client, token, url, **fields):
    return client.post(url, data={"csrf_token": token, **fields})


def test_quality_decides_the_class_and_a_refusal_needs_a_reason(app):
    cluster, cases = cluster_of_three()
    client, token = signed_in(app, "quality")
    url = f"/clusters/{cluster.id}/decide"
    resp = post(client, token, url, **{"decide-version": cluster.version, "decide-serious": "no"})
    assert resp.status_code == 400 and "不按严重处理时请写明理由。" in resp.get_data(as_text=True)
    assert clusters()[0].serious is None

    resp = post(client, token, url, **{"decide-version": cluster.version, "decide-serious": "yes",
                                       "decide-note": "同批次多地投诉"})
    assert resp.status_code == 303
    cluster = clusters()[0]
    assert cluster.serious is True and cluster.decided_by.username == "quality"
    page = client.get(f"/cases/{cases[1].number}").get_data(as_text=True)
    assert "品保决定：按严重处理" in page

    # A page drawn before that decision is stale: told so, nothing changed.
    resp = post(client, token, url, **{"decide-version": cluster.version - 1, "decide-serious": "no",
                                       "decide-note": "x"})
    assert resp.status_code == 409 and "已被他人处理" in resp.get_data(as_text=True)
    assert clusters()[0].serious is True


def test_only_quality_decides_or_closes(app):
    cluster, _cases = cluster_of_three()
    client, token = signed_in(app, "desk")
    assert "类别决定" not in client.get(f"/clusters/{cluster.id}").get_data(as_text=True)
    resp = post(client, token, f"/clusters/{cluster.id}/close", **{"close-version": cluster.version,
                                                                   "close-note": "x"})
    assert resp.status_code == 403 and clusters()[0].is_open


def test_closing_a_cluster_needs_a_reason_and_a_later_wave_opens_a_new_one(app):
    cluster, _cases = cluster_of_three()
    client, token = signed_in(app, "quality")
    url = f"/clusters/{cluster.id}/close"
    resp = post(client, token, url, **{"close-version": cluster.version, "close-note": " "})
    assert resp.status_code == 400 and "请写明关闭理由。" in resp.get_data(as_text=True)
    assert clusters()[0].is_open
    resp = post(client, token, url, **{"close-version": cluster.version, "close-note": "纠正预防单已验证有效"})
    assert resp.status_code == 303 and not clusters()[0].is_open
    assert f"/clusters/{cluster.id}" not in client.get("/clusters/").get_data(as_text=True)
    assert f"/clusters/{cluster.id}" in client.get("/clusters/?state=closed").get_data(as_text=True)
    before = len(alerts())
    make_case("rep_cd")  # still four cases within 30 days: a new cluster, a new alert
    assert len(clusters()) == 2 and len(alerts()) == before + 4


# ---------------------------------------------------------------- the rule page

RULE_FIELDS = ("min_cases", "window_days", "min_branches")


def rule_token(client) -> tuple[str, str]:
    page = client.get("/clusters/rule").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="version"', page)
    return csrf_from(client, "/clusters/rule"), (version.group(1) or version.group(2) or "") if version else ""


def test_quality_edits_the_rule_and_bad_input_is_refused_in_chinese(app):
    client, _token = signed_in(app, "quality")
    token, version = rule_token(client)
    assert version == ""  # the defaults, never saved
    resp = client.post("/clusters/rule", data={"csrf_token": token, "version": version, "min_cases": "1",
                                               "window_days": "三十", "min_branches": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "投诉起数应为 2 到 1000 之间的整数" in html and "统计天数应为 1 到 366 之间的整数" in html
    assert db.session.execute(sa.select(ClusterRule)).first() is None

    resp = client.post("/clusters/rule", data={"csrf_token": token, "version": version, "min_cases": "2",
                                               "window_days": "7", "min_branches": ""})
    assert resp.status_code == 303
    row = db.session.execute(sa.select(ClusterRule)).scalar_one()
    assert (row.min_cases, row.window_days, row.min_branches) == (2, 7, None)
    assert "7 天内同一批号 2 起投诉" in client.get("/clusters/").get_data(as_text=True)

    # The form drawn before that save is stale now.
    resp = client.post("/clusters/rule", data={"csrf_token": token, "version": version, "min_cases": "9",
                                               "window_days": "7", "min_branches": ""})
    assert resp.status_code == 409 and "批号聚集规则已被他人修改" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.execute(sa.select(ClusterRule.min_cases)).scalar_one() == 2

    make_case("rep_cd")
    make_case("rep_cd")
    assert len(clusters()) == 1  # two cases now make a cluster


def test_admin_may_edit_the_rule_a_rep_may_not(app):
    admin, _token = signed_in(app, "admin")
    assert admin.get("/clusters/rule").status_code == 200
    rep, _token = signed_in(app, "rep_cd")
    assert rep.get("/clusters/rule").status_code == 403


def test_parallel_intakes_on_one_batch_open_one_cluster_and_alert_once(app):
    """The third, fourth … cases arriving at the same moment (threads with their own
    connections, as gunicorn workers): one cluster, one alert, every case in it."""
    make_case("rep_cd"), make_case("rep_cd")
    n = 8
    start = threading.Barrier(n)
    errors: list[str] = []

    def intake():
        try:
            with app.app_context():
                start.wait(timeout=30)
                make_case("rep_cd")
                db.session.remove()
        except Exception:  # noqa: BLE001 - reported below with the traceback
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=intake) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[0]
    [cluster] = clusters()
    assert len(members(cluster)) == n + 2
    assert len(alerts()) == 4  # two quality users × mail and bell, once


def test_the_alert_is_in_the_outbox_under_its_own_kind(app):
    cluster_of_three()
    admin, _token = signed_in(app, "admin")
    page = admin.get("/admin/outbox?kind=cluster").get_data(as_text=True)
    assert "批号聚集预警" in page  # the filter's option and the rows' kind
    assert page.count(f"【批号预警】批号 {BATCH}") == 4


def test_the_cluster_page_lists_the_sheets_issued_for_its_batch(app):
    from portal.capa import operations as capa
    cluster, _cases = cluster_of_three()
    client, _token = signed_in(app, "quality")
    assert "该批号尚未开纠正预防单。" in client.get(f"/clusters/{cluster.id}").get_data(as_text=True)
    sheet = capa.issue_sheet(user("quality"), PASSWORD, receiving_unit_id=unit("PROD1").id,
                             nonconformity="同批号三起头发异物投诉。", batch_no=BATCH, cluster_id=cluster.id)
    page = client.get(f"/clusters/{cluster.id}").get_data(as_text=True)
    assert f'href="/ca/{sheet.number}"' in page
