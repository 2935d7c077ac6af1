"""The same intake form sent twice makes one case (issue 10): Back after a successful intake
and submit again, with or without files, or two taps at the same moment — the second send
is told the case it already made, with a link, and nothing of it is written."""
from __future__ import annotations

import re
import threading

from portal.cases.models import Case, CaseCounter
from portal.clock import SHANGHAI, utcnow
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.signing.models import AuditEvent
from tests.conftest import INTAKE_FORM as FORM, count, csrf_from

KEY = re.compile(r'name="intake_key"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="intake_key"')


def drawn_key(client) -> str:
    """The key of the intake form as the browser receives it."""
    html = client.get("/cases/new").get_data(as_text=True)
    m = KEY.search(html)
    assert m, "the intake form carries no key"
    return m.group(1) or m.group(2)


def send(client, key: str, **overrides):
    data = {**FORM, **overrides, "intake_key": key, "csrf_token": csrf_from(client, "/cases/new")}
    return client.post("/cases/new", data=data, content_type="multipart/form-data")


def footprint() -> tuple[int, int, int, int]:
    year = utcnow().astimezone(SHANGHAI).year
    db.session.expire_all()
    counter = db.session.get(CaseCounter, year)
    return count(Case), count(AuditEvent), count(OutboxMessage), counter.last if counter else 0


def test_resubmitting_a_form_without_files_after_back_is_refused(app, as_user):
    rep = as_user("rep_cd")
    key = drawn_key(rep)
    first = send(rep, key)
    assert first.status_code == 303, first.get_data(as_text=True)[:1500]
    number = first.headers["Location"].rsplit("/", 1)[-1]
    before = footprint()
    # Back to the form the browser still holds, and submit it once more: no files this time.
    again = send(rep, key)
    html = again.get_data(as_text=True)
    assert again.status_code == 409, html[:1500]
    assert f"这份投诉已经提交过，编号 {number}。" in html and f'href="/cases/{number}"' in html
    assert footprint() == before  # no case, no audit event, no mail, no number used up
    assert KEY.search(html)  # the page still holds the same form: a third send is refused too
    assert send(rep, key).status_code == 409 and footprint() == before


def test_each_drawn_form_is_a_new_complaint(app, as_user):
    rep = as_user("rep_cd")
    first, second = drawn_key(rep), drawn_key(rep)
    assert first != second
    assert send(rep, first).status_code == 303
    assert send(rep, second, customer_name="李建国").status_code == 303
    assert count(Case) == 2


def test_a_form_sent_back_after_an_error_still_registers(app, as_user):
    rep = as_user("rep_cd")
    key = drawn_key(rep)
    failed = send(rep, key, customer_name="")
    assert failed.status_code == 400 and count(Case) == 0
    assert KEY.search(failed.get_data(as_text=True)).group(0).count(key) == 1  # the same form, corrected
    assert send(rep, key).status_code == 303 and count(Case) == 1


def test_two_sends_of_one_form_at_the_same_moment_make_one_case(app, as_user):
    clients = [as_user("rep_cd"), as_user("rep_cd")]
    key = drawn_key(clients[0])
    tokens = [csrf_from(c, "/cases/new") for c in clients]
    start = threading.Barrier(2)
    results: list = [None, None]

    def submit(i: int):
        with app.app_context():  # as a server thread has: its own session and connection
            start.wait(timeout=30)
            results[i] = clients[i].post("/cases/new", data={**FORM, "intake_key": key, "csrf_token": tokens[i]},
                                         content_type="multipart/form-data")
            db.session.remove()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [303, 409], [r.get_data(as_text=True)[:800] for r in results]
    number = next(r for r in results if r.status_code == 303).headers["Location"].rsplit("/", 1)[-1]
    refused = next(r for r in results if r.status_code == 409).get_data(as_text=True)
    assert f"这份投诉已经提交过，编号 {number}。" in refused
    assert count(Case) == 1
    db.session.expire_all()
    year = utcnow().astimezone(SHANGHAI).year
    assert db.session.get(CaseCounter, year).last == 1  # the refused send gave its number back
