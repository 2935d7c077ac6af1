"""Templates translate through a cached catalog per language (portal/templating.py) and the
locale is a parsed Babel Locale chosen once per request (portal/i18n.py): both must still
follow the reader's language, a language switch, and `force_locale`."""
from __future__ import annotations

from babel import Locale
from flask import render_template_string
from flask_babel import force_locale, get_locale


def test_locale_selector_gives_parsed_locales(app):
    from portal.i18n import select_locale
    with app.app_context(), app.test_request_context("/?lang=en"):
        assert isinstance(select_locale(), Locale)
        assert get_locale().language == "en"
    with app.app_context(), app.test_request_context("/"):
        assert get_locale().language == "zh"


def test_template_gettext_follows_language_and_force_locale(app):
    with app.app_context(), app.test_request_context("/?lang=en"):
        assert render_template_string("{{ _('我的待办') }}") == "My work"
        with force_locale("zh_CN"):
            assert render_template_string("{{ _('我的待办') }}") == "我的待办"
        assert render_template_string("{{ _('我的待办') }}") == "My work"
    with app.app_context(), app.test_request_context("/"):
        assert render_template_string("{{ _('我的待办') }}") == "我的待办"
        assert render_template_string("{{ _('第 %(page)s 页', page=3) }}") == "第 3 页"


def test_template_gettext_formats_and_escapes_as_jinja_does(app):
    """The templates' own `_()` (kept once made when it has no variables) answers as Jinja's
    newstyle gettext: always %-formatted, variables escaped, the text itself not."""
    with app.app_context(), app.test_request_context("/"):
        for _ in range(2):  # made, then kept
            assert render_template_string("{{ _('完成 100%%') }}") == "完成 100%"
            assert render_template_string("{{ _('第 %(page)s 页', page='<b>') }}") == "第 &lt;b&gt; 页"
            assert render_template_string("{% autoescape false %}{{ _('第 %(page)s 页', page='<b>') }}"
                                          "{% endautoescape %}") == "第 <b> 页"
            assert render_template_string("{{ _('我的待办') ~ '<' }}") == "我的待办&lt;"


def test_pages_switch_language(as_user):
    desk = as_user("desk")
    assert "我的待办" in desk.get("/work").get_data(as_text=True)
    desk.get("/lang/en")
    html = desk.get("/work").get_data(as_text=True)
    assert "My work" in html and "我的待办" not in html


def test_list_rows_drawn_in_python_escape_stored_text_and_translate(app, as_user):
    """present.case_rows draws the list's rows (for speed): stored text stays escaped, the
    phone masked, the labels in the reader's language."""
    from tests.conftest import make_case
    case = make_case("rep_cd", customer_name="<b>王</b>&秀英", product_name='饺子"<i>', batch_no="2026090110100")
    desk = as_user("desk")
    html = desk.get("/cases/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'href="/cases/{case.number}">{case.number}</a>' in html
    assert "&lt;b&gt;王&lt;/b&gt;&amp;秀英" in html and "<b>王</b>" not in html
    assert "饺子&#34;&lt;i&gt;" in html
    assert "139****5678" in html and "13912345678" not in html
    assert 'data-label="顾客"' in html
    desk.get("/lang/en")
    html = desk.get("/cases/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-label="Customer"' in html


def test_the_kept_header_follows_the_readers_name_roles_language_and_page(app, as_user):
    """The signed-in header is drawn once per reader and page and kept (templating.topbar):
    a new name or role, another language or page must still show at once."""
    import re
    from portal.extensions import db
    from portal.org.enums import Role
    from tests.conftest import user

    quality = as_user("quality")
    page = quality.get("/cases/").get_data(as_text=True)
    assert "批号聚集" in page and 'class="active">投诉列表' in page
    assert 'class="active">我的待办' in quality.get("/work").get_data(as_text=True)

    q = user("quality")
    old_name = q.name
    q.name = "改名后的质量员"
    q.roles = [r for r in q.roles if r != Role.QUALITY] + [Role.LEADER]
    db.session.commit()
    page = quality.get("/cases/").get_data(as_text=True)
    assert "改名后的质量员" in page and old_name not in page.split("<main")[0]
    assert "批号聚集" not in page

    english = quality.get("/cases/?lang=en").get_data(as_text=True)
    assert "My work" in english.split("<main")[0]

    # The logout form carries this session's own token, the one the page's htmx sends.
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', page.split("<main")[0]))
    assert tokens == set(re.findall(r'"X-CSRFToken": "([^"]+)"', page))
    other = as_user("desk").get("/cases/").get_data(as_text=True)
    assert not tokens & set(re.findall(r'name="csrf_token" value="([^"]+)"', other))
