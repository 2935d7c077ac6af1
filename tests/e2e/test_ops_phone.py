"""The administrator on a phone (issue 11): finds a mail the workers gave up on in the outbox,
reads the server's refusals, sends it again; the queues page with a failed job's traceback.
Nothing is wider than the screen, however long the provider's answer or the traceback."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from redis import Redis

from portal import clock
from portal.extensions import db
from portal.notify.models import OutboxAttempt
from portal.notify.outbox import add_message
from tests.conftest import user
from tests.e2e.conftest import PHONE

# What a provider may answer: long, and without a space to break at.
LONG_ANSWER = "SMTPRecipientsRefused: {'zhao.lei@example.com': (550, b'5.1.1 " + "x" * 300 + "')}"


def fits_the_screen(page) -> bool:
    """No box in the page reaches past the screen's right edge: the page does not scroll
    sideways, and nothing is cut off (a phone's list rows clip what overflows them)."""
    wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => e.tagName + '.' + e.className)""")
    assert not wide, wide
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_admin_retries_a_given_up_mail_and_reads_the_queues_on_a_phone(app, login_as, redis_url):
    msg = add_message(key="e2e-ops-dead", channel="email", recipient=user("leader_prod1"),
                      subject="【客诉】升级：KS2026-000001 已超时", body="请督办。", kind="escalation")
    db.session.flush()
    msg.status, msg.attempts, msg.provider_response = "dead", 2, LONG_ANSWER
    for n in (1, 2):
        db.session.add(OutboxAttempt(message_id=msg.id, attempt=n, at=clock.utcnow(), outcome="failed" if n == 1 else "dead",
                                     response=LONG_ANSWER))
    add_message(key="e2e-ops-sent", channel="email", recipient=user("desk"), subject="已送达的通知",
                body="正文").status = "sent"
    db.session.commit()
    from rq import Queue, SimpleWorker
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    q = Queue("default", connection=conn)
    q.enqueue("math.sqrt", -1)
    SimpleWorker([q], connection=conn).work(burst=True)

    page = login_as("admin", **PHONE)
    page.on("dialog", lambda dialog: dialog.accept())  # "send this message again now?"
    page.goto("/admin/outbox")
    expect(page.locator("#outbox-results tbody tr")).to_have_count(2)
    page.locator("#status").select_option(label="已放弃")
    link = page.get_by_role("link", name="【客诉】升级：KS2026-000001 已超时")
    expect(link).to_be_visible()
    expect(page.locator("#outbox-results tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"status=dead"))  # in the address: Back and reload keep it
    assert fits_the_screen(page)

    link.tap()
    expect(page.locator("h1")).to_contain_text(f"消息 #{msg.id}")
    expect(page.get_by_text("第 2 次")).to_be_visible()
    assert fits_the_screen(page)
    page.get_by_role("button", name="立即重发").tap()
    expect(page.get_by_text("已重新排队，稍后发送。")).to_be_visible()
    expect(page.locator("h1 .pill")).to_have_text("待发送")
    expect(page.get_by_role("button", name="立即重发")).to_have_count(0)

    page.get_by_role("link", name="队列与工作进程").first.tap()
    expect(page.get_by_text("ValueError: math domain error").first).to_be_visible()
    page.get_by_text("完整错误信息").tap()
    expect(page.locator("pre.traceback")).to_be_visible()
    assert fits_the_screen(page)
    conn.flushdb()
