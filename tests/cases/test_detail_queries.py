"""The case page loads what it always shows with the case, not one query per related row
(issue 10 item 22: the case page ran 12 statements per request)."""
import re

import pytest
import sqlalchemy as sa

from tests.conftest import make_case_at, make_stored_file


def _statements(app, client, url):
    from portal.extensions import db
    seen = []

    def record(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        resp = client.get(url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert resp.status_code == 200
    return resp.get_data(as_text=True), seen


def _lazy_loads(statements):
    """Statements that fetch one related row (or list) of the case on its own."""
    return [s for s in statements
            if s.startswith("SELECT attachment.")  # the case's photos and files
            or re.search(r"FROM category\s+WHERE category\.id =", s)  # its cause category
            # a person (registrar, step user, responsible): not the session's user loader
            # and not a picker of handlers
            or (s.startswith('SELECT "user".') and "user_session" not in s and "user_role" not in s)]


@pytest.mark.parametrize("stage", ["new", "acknowledged"])
def test_case_page_loads_files_category_and_people_with_the_case(app, as_user, stage):
    case = make_case_at(stage, files=[make_stored_file("现场照片.jpg")])
    number = case.number
    desk = as_user("desk")
    html, statements = _statements(app, desk, f"/cases/{number}")
    assert "现场照片.jpg" in html or "/files/" in html  # the photo is on the page
    assert _lazy_loads(statements) == []
