"""Every button of every step panel posts through its panel's form, so htmx swaps the whole case
body (#case-main). A button or field with an hx-post/hx-get of its own does not inherit the
form's target past hx-disinherit: htmx then draws the answer inside the button (issue 10: the
refreshed case inside the red 驳回 button, the old approval panel left above it)."""
from html.parser import HTMLParser

from portal.cases import operations as ops
from portal.cases.panels import PANEL_OF
from tests.conftest import make_case_at

HX_REQUESTS = ("hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete")

# A page for each kind of step panel: (stage of the case, who looks at it).
PAGES = [("new", "desk"), ("new", "rep_cd"), ("info_requested", "rep_cd"), ("verified", "quality"),
         ("verified", "desk"), ("dispatched", "handler_prod1"), ("dispatched", "desk"),
         ("acknowledged", "handler_prod1"), ("acknowledged", "desk"), ("proposed", "leader_prod1"),
         ("approved", "handler_prod1"), ("implemented", "desk"), ("called_back", "leader_prod1"),
         ("closed", "desk")]


class PanelElements(HTMLParser):
    """Elements inside <section class="card panel" id="panel-…">, with their attributes."""

    def __init__(self):
        super().__init__()
        self.panel, self.depth, self.found, self.panels = None, 0, [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and (a.get("id") or "").startswith("panel-"):
            self.panel, self.depth = a["id"][len("panel-"):], 0
            self.panels.add(self.panel)
        if self.panel is None:
            return
        if tag == "section":
            self.depth += 1
        self.found.append((self.panel, tag, a))

    def handle_endtag(self, tag):
        if self.panel is not None and tag == "section":
            self.depth -= 1
            if self.depth == 0:
                self.panel = None


def test_every_panel_control_swaps_the_whole_case_body(app, as_user):
    clients, seen = {}, set()
    for stage, username in PAGES:
        case = make_case_at(stage)
        client = clients.setdefault(username, as_user(username))
        html = client.get(f"/cases/{case.number}").get_data(as_text=True)
        parser = PanelElements()
        parser.feed(html)
        seen |= parser.panels
        for panel, tag, attrs in parser.found:
            requests = [k for k in HX_REQUESTS if k in attrs]
            where = f"{stage}/{username} panel {panel}: <{tag} {attrs}>"
            if tag == "button":
                # formaction is fine: htmx sends the form's own request to it.
                assert not requests, "a button must post through its form, not an hx-* request: " + where
            elif tag == "form" and requests:
                assert attrs.get("hx-target") == "#case-main" and attrs.get("hx-swap") == "outerHTML", where
            elif requests:
                # A field's own fetch (the handler picker) must say where its answer goes.
                assert attrs.get("hx-target") and attrs.get("hx-swap"), where
    panels = {name for name in ops.TRANSITIONS if name not in PANEL_OF}
    assert panels <= seen, f"panels never drawn by this test: {sorted(panels - seen)}"
