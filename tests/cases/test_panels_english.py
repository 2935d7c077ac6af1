"""Every step panel reads English for an English reader: nothing Chinese is left on it but
the stored data (names, the customer's words, notes)."""
import re

from tests.conftest import ACTS_ON, ROOT, leftover_chinese, make_case_at, signed_in, stored_texts

# Who sees the panels: each role that takes a step of a case of rep_cd dispatched to 生产一部.
READERS = ["desk", "quality", "handler_prod1", "leader_prod1", "rep_cd"]
# Fragments included by a panel, not panels of their own.
FRAGMENTS = {"department_picker", "dispatch_people"}
PANEL = re.compile(r'<section class="card panel" id="panel-([a-z_]+)">.*?</section>', re.S)


def test_every_panel_in_english_has_no_chinese_but_the_data(app):
    clients = {}
    for username in READERS:
        client, _ = signed_in(app, username)
        client.get("/lang/en")
        clients[username] = client
    cases = [make_case_at(stage) for stage in sorted(set(ACTS_ON.values()))]
    data = stored_texts()

    seen, problems = set(), {}
    for case in cases:
        for username, client in clients.items():
            resp = client.get(f"/cases/{case.number}")
            if resp.status_code != 200:
                continue
            html = resp.get_data(as_text=True)
            assert '<html lang="en">' in html
            for m in PANEL.finditer(html):
                seen.add(m.group(1))
                left = leftover_chinese(m.group(0), data)
                if left:
                    problems.setdefault(f"panel-{m.group(1)} ({username})", left)
    assert not problems, "\n".join(f"{where}: {left}" for where, left in problems.items())

    templates = {p.stem.lstrip("_") for p in (ROOT / "templates" / "cases" / "panels").glob("_*.html")}
    assert templates - FRAGMENTS <= seen, f"panels never drawn: {templates - FRAGMENTS - seen}"
