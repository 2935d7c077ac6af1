"""Error pages always render in the portal's layout, in Chinese, even when the request broke
its database session (a unique or foreign-key violation): never the server's bare page."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.org.models import User
from tests.conftest import do_login


@pytest.fixture
def broken_app(app, database_url, redis_url, tmp_path):
    """A second app on the same database, run as in production (exceptions become the 500
    page, not a traceback in the test), with a view that fails inside a broken transaction."""
    from portal import create_app
    from portal.config import TestConfig
    from tests.conftest import IsolatedClient

    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url,
                       UPLOAD_DIR=tmp_path, PROPAGATE_EXCEPTIONS=False)

    @other.route("/_test/broken-session")
    def broken_session():
        # A duplicate username violates a unique constraint at flush; the session is then
        # unusable until rolled back, and the view dies with it, as intake did with a reused
        # upload token.
        db.session.add(User(username="desk", name="重复", password_hash="x", unit_id=None))
        try:
            db.session.flush()
        except sa.exc.IntegrityError:
            pass
        raise RuntimeError("the view failed after a database error")

    other.test_client_class = IsolatedClient
    with other.app_context():
        yield other
        db.session.remove()


def test_a_failing_view_with_a_broken_session_gets_the_portals_500_page(broken_app):
    client = broken_app.test_client()
    assert do_login(client, "desk").status_code == 302
    resp = client.get("/_test/broken-session")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert "系统出错了，请稍后重试；如果问题持续，请联系系统管理员。" in html
    assert 'aria-label="主导航"' in html and "张敏" in html  # the layout, with the signed-in user
    assert "Internal Server Error" not in html


def test_the_500_page_is_english_for_english_readers(broken_app):
    client = broken_app.test_client()
    do_login(client, "desk")
    client.get("/lang/en")
    html = client.get("/_test/broken-session").get_data(as_text=True)
    assert "Something went wrong. Please try again later" in html, html[:800]
