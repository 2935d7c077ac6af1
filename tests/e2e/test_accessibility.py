"""Accessibility: no serious or critical axe-core violation on any page, on a phone and on a
desktop (colour contrast, links told apart from text, names of controls, …).

axe-core comes inside the `axe-playwright-python` wheel (axe.min.js), so this runs offline.
"""
from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.conftest import make_case_at
from tests.e2e.conftest import PHONE, settle

DESKTOP = {"viewport": {"width": 1366, "height": 900}}
CONTEXTS = {"phone": PHONE, "desktop": DESKTOP}
SERIOUS = {"serious", "critical"}

_axe = Axe()


def serious_violations(page) -> list[str]:
    """axe's serious and critical findings on the page as it is now, one line per element."""
    results = _axe.run(page)
    lines = []
    for v in results.response["violations"]:
        if v.get("impact") not in SERIOUS:
            continue
        for node in v["nodes"]:
            lines.append(f"{v['id']} ({v['impact']}): {' '.join(node['target'])} — "
                         f"{node.get('failureSummary', '').splitlines()[-1].strip()} | {node['html'][:120]}")
    return lines


def check(page, path: str, failures: list[str]) -> None:
    page.goto(path)
    settle(page)
    failures.extend(f"{path}: {line}" for line in serious_violations(page))


@pytest.fixture(params=list(CONTEXTS))
def device(request):
    return request.param, CONTEXTS[request.param]


def test_login_and_error_pages(browser, live_server, device):
    name, ctx = device
    context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai", **ctx)
    page = context.new_page()
    failures: list[str] = []
    try:
        check(page, "/auth/login", failures)
        page.fill("#username", "rep_cd")
        page.fill("#password", "wrong-password")
        page.locator("form button[type=submit]").click()
        settle(page)
        failures.extend(f"/auth/login (failed): {line}" for line in serious_violations(page))
        check(page, "/no-such-page", failures)
    finally:
        context.close()
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_desk_pages_and_case_states(app, login_as, device):
    name, ctx = device
    cases = {stage: make_case_at(stage) for stage in ("new", "info_requested", "verified", "proposed",
                                                      "called_back", "closed")}
    page = login_as("desk", **ctx)
    failures: list[str] = []
    for path in ("/work", "/cases/", "/cases/?state=open&klass=major", "/cases/new", "/auth/password",
                 "/cases/KS0000-000000"):
        check(page, path, failures)
    for stage, case in cases.items():
        check(page, f"/cases/{case.number}", failures)
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_handler_and_leader_panels(app, login_as, device):
    name, ctx = device
    dispatched = make_case_at("dispatched")
    acknowledged = make_case_at("acknowledged")
    proposed = make_case_at("proposed")
    approved = make_case_at("approved")
    failures: list[str] = []
    handler = login_as("handler_prod1", **ctx)
    for case in (dispatched, acknowledged, approved):
        check(handler, f"/cases/{case.number}", failures)
    check(handler, "/work", failures)
    leader = login_as("leader_prod1", **ctx)
    for path in ("/work", "/work?only=approve", f"/cases/{proposed.number}"):
        check(leader, path, failures)
    rep = login_as("rep_cd", **ctx)
    for path in ("/cases/new", "/work", f"/cases/{make_case_at('implemented').number}"):
        check(rep, path, failures)
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_admin_pages(app, login_as, device):
    name, ctx = device
    page = login_as("admin", **ctx)
    failures: list[str] = []
    for path in ("/admin/users", "/admin/users/new", "/admin/units", "/admin/units/new", "/cases/new"):
        check(page, path, failures)
    page.goto("/admin/users")
    link = page.locator("main a[href^='/admin/users/']").filter(has_not_text="新").first
    if link.count():
        link.click()
        settle(page)
        failures.extend(f"user edit: {line}" for line in serious_violations(page))
    page.goto("/admin/units")
    link = page.locator("main a[href^='/admin/units/']").filter(has_not_text="新").first
    if link.count():
        link.click()
        settle(page)
        failures.extend(f"unit edit: {line}" for line in serious_violations(page))
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_english_pages(app, login_as, device):
    """English labels are longer: they must keep the same contrast and names."""
    name, ctx = device
    case = make_case_at("proposed")
    page = login_as("leader_prod1", **ctx)
    page.goto("/lang/en")
    failures: list[str] = []
    for path in ("/work", "/cases/", f"/cases/{case.number}"):
        check(page, path, failures)
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_quality_batch_cluster_pages(app, login_as, device):
    """Issue 12: the cluster list, a cluster, the rule, and a case in a cluster at dispatch (the
    trace panel with the register's answer); nothing wider than a phone's screen."""
    name, ctx = device
    import sqlalchemy as sa
    from portal.clusters.models import BatchCluster
    from portal.extensions import db
    cases = [make_case_at("verified") for _ in range(3)]  # one batch: a cluster
    cluster_id = db.session.execute(sa.select(BatchCluster.id)).scalar_one()
    page = login_as("quality", **ctx)
    failures: list[str] = []
    for path in ("/clusters/", f"/clusters/{cluster_id}", "/clusters/rule", f"/cases/{cases[0].number}"):
        check(page, path, failures)
        if name == "phone" and page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            failures.append(f"{path}: wider than the phone's screen")
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_product_and_batch_register_pages(app, login_as, device):
    """Issue 12: the register's lists, forms (one refused), the import page and a refused
    import's report, for the admin; quality's read-only list; none wider than a phone."""
    name, ctx = device
    import sqlalchemy as sa
    from portal.batches.models import Batch, Product
    from portal.catalog.models import ImportJob, ImportKind, ImportStatus
    from portal.extensions import db
    from tests.conftest import user
    batch_id = db.session.execute(sa.select(Batch.id).limit(1)).scalar_one()
    product_id = db.session.execute(sa.select(Product.id).limit(1)).scalar_one()
    job = ImportJob(kind=ImportKind.BATCHES, status=ImportStatus.REFUSED, filename="批号.xlsx",
                    stored_name="x.xlsx", sha256="0" * 64, created_by_id=user("admin").id, total_rows=3,
                    done_rows=3, error_count=1, errors=[[3, "生产日期「2026-02-30」不是有效日期，请写成 2026-09-01。"]])
    db.session.add(job)
    db.session.commit()
    failures: list[str] = []

    def visit(page, path):
        check(page, path, failures)
        if name == "phone" and page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            failures.append(f"{path}: wider than the phone's screen")

    page = login_as("admin", **ctx)
    for path in ("/catalog/batches", "/catalog/batches/new", f"/catalog/batches/{batch_id}", "/catalog/products",
                 "/catalog/products/new", f"/catalog/products/{product_id}", "/catalog/import",
                 f"/catalog/import/{job.id}"):
        visit(page, path)
    page.goto("/catalog/batches/new")
    page.fill("#batch_no", "2026 11 01")
    page.fill("#production_date", "2099-01-01")
    page.locator("main form button[type=submit]").click()
    settle(page)
    failures.extend(f"refused batch form: {line}" for line in serious_violations(page))
    visit(login_as("quality", **ctx), "/catalog/batches")
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_pages_beyond_staff(app, browser, live_server, login_as, device):
    """Issue 14: the customer's progress page (with its forms, and the polite page of a wrong
    link), the integrators' page, and the admin pages of tokens and webhooks."""
    from tests.customer.conftest import page_path
    name, ctx = device
    closed, asked = make_case_at("closed"), make_case_at("info_requested")
    customer = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai", **ctx)
    page = customer.new_page()
    failures: list[str] = []
    try:
        for path in (page_path(closed), page_path(asked), "/p/not-a-link-at-all", "/api/docs/"):
            check(page, path, failures)
    finally:
        customer.close()
    page = login_as("admin", **ctx)
    for path in ("/admin/api-tokens", "/admin/api-tokens/new", "/admin/webhooks", "/admin/webhooks/new"):
        check(page, path, failures)
    desk = login_as("desk", **ctx)
    check(desk, f"/cases/{closed.number}/receipt", failures)
    assert not failures, f"{name}:\n" + "\n".join(failures)
