"""The sheet's pages read English for an English reader: nothing Chinese is left but the data."""
import re

from portal.capa.states import Layout
from tests.capa.conftest import approve, issue, respond
from tests.conftest import leftover_chinese, signed_in, stored_texts

MAIN = re.compile(r'<div id="sheet-main">.*', re.S)


def test_sheet_pages_and_panels_in_english(app):
    issued = issue(layout=Layout.EIGHT_D)
    responded = issue()
    respond(responded)
    approved = issue()
    respond(approved)
    approve(approved)
    pages = {"handler_prod1": [f"/ca/{issued.number}"], "leader_prod1": [f"/ca/{responded.number}"],
             "quality": [f"/ca/{approved.number}", "/ca/", f"/ca/new?case={issued.cases[0].number}",
                         f"/cases/{issued.cases[0].number}"]}
    problems = {}
    for username, paths in pages.items():
        client, _t = signed_in(app, username)
        client.get("/lang/en")
        data = stored_texts()
        for path in paths:
            html = client.get(path).get_data(as_text=True)
            assert '<html lang="en">' in html
            body = html[html.index("<main"):]
            if path.startswith("/cases/"):
                body = re.search(r'<section class="card" id="case-sheets">.*?</section>', body, re.S).group(0)
            left = leftover_chinese(body, data)
            if left:
                problems[f"{path} ({username})"] = left
    assert not problems, "\n".join(f"{where}: {left}" for where, left in problems.items())
