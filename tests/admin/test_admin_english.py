"""Every administration page reads English for an English reader, refusals included: nothing
Chinese is left but the stored names of people and units."""
import re

from tests.conftest import csrf_from, leftover_chinese, signed_in, stored_texts, unit, user


def main_of(html: str) -> str:
    m = re.search(r'<main id="main".*?</main>', html, re.S)
    assert m, "no <main> on the page"
    return m.group(0)


def test_every_admin_page_in_english_has_no_chinese_but_the_data(app):
    client, _ = signed_in(app, "admin")
    client.get("/lang/en")
    someone, branch = user("rep_cd"), unit("BR-CD")
    pages = ["/admin/users", "/admin/users?q=刘&role=rep", "/admin/users/new",
             f"/admin/users/{someone.id}", "/admin/units", "/admin/units/new", f"/admin/units/{branch.id}"]
    refused = {  # forms sent back with their messages: every field empty or wrong
        "/admin/users/new": {"username": "", "password": "x"},
        f"/admin/users/{someone.id}": {"name": "", "email": "not-an-email"},
        "/admin/units/new": {"name": "", "code": "a b"},
        f"/admin/units/{branch.id}": {"name": "", "parent_id": str(branch.id)},
    }
    data = stored_texts()
    problems = {}
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        assert '<html lang="en">' in html, url
        if left := leftover_chinese(main_of(html), data):
            problems[url] = left
    for url, form in refused.items():
        resp = client.post(url, data={**form, "csrf_token": csrf_from(client, url)})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400 and 'class="error"' in html, (url, resp.status_code)
        if left := leftover_chinese(main_of(html), data):
            problems[f"POST {url}"] = left
    assert not problems, "\n".join(f"{url}: {left}" for url, left in problems.items())
