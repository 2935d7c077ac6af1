"""Chinese first, English by the `lang` cookie: the pages switch, and the English catalog is
complete, keeps its placeholders and cannot drift from the code.

The catalog is portal/translations/en/LC_MESSAGES/messages.po (msgids are the Chinese UI
strings). Labels that reach gettext only as variables (enum labels, timeline actions, sort
orders, satisfaction dimensions, workflow transitions, approval reasons) are marked N_("…")
where they are defined, so that `pybabel extract` finds them; the tests below fail when one is
unmarked or untranslated. How to update the catalog: portal/translations/README.md.
"""
from __future__ import annotations

import functools
import inspect
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import HAN, csrf_from, make_case

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "portal" / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

# Han ideographs and the CJK / full-width punctuation (、。「」：（）…) a Chinese string carries.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
# printf-style conversions, named or not; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None}


def _placeholders(text: str) -> Counter:
    return Counter(m.group(0) for m in PLACEHOLDER.finditer(text) if m.group(0) != "%%")


@pytest.fixture(scope="module")
def catalog():
    with PO.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def translations(catalog) -> dict[str, str]:
    return {m.id: m.string for m in catalog if m.id}


def _nav(html: str) -> str:
    m = re.search(r'<nav class="nav"[^>]*>(.*?)</nav>', html, re.S)
    assert m, "no main navigation on the page"
    return m.group(1)


# ---------------------------------------------------------------- the pages switch language

def test_chinese_by_default(as_user):
    client = as_user("desk")
    html = client.get("/work").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "<h1>我的待办</h1>" in html
    assert "投诉列表" in _nav(html)
    assert '<a href="/lang/en">English</a>' in html  # the user menu offers the other language


def test_lang_cookie_switches_to_english_and_back(as_user):
    client = as_user("desk")
    resp = client.get("/lang/en")
    assert resp.status_code in (302, 303)
    assert "lang=en" in resp.headers.get("Set-Cookie", "")

    html = client.get("/work").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "<h1>My work</h1>" in html
    nav = _nav(html)
    assert "My work" in nav and "Complaints" in nav and "Register complaint" in nav
    assert not HAN.findall(re.sub(r"<[^>]+>", "", nav)), nav
    assert "<title>My work · Complaint Portal</title>" in html
    assert "Complaint desk specialist" in html  # the user's role label, from the enum

    html = client.get("/cases/").get_data(as_text=True)
    assert "<h1>Complaints</h1>" in html
    assert "Newest first" in html  # SORT_LABELS, translated in the template

    client.get("/lang/zh_CN")
    assert "<h1>我的待办</h1>" in client.get("/work").get_data(as_text=True)


def test_enum_labels_follow_the_locale(app, translations):
    from flask_babel import force_locale
    from portal.cases.states import State

    with app.test_request_context("/"):
        with force_locale("en"):
            assert State.NEW.label == "Awaiting verification"
            for cls in _labeled_enums():
                for member in cls:
                    assert member.label == translations[member._zh], f"{cls.__name__}.{member.name}"
        with force_locale("zh_CN"):
            assert State.NEW.label == "待核实"
            # Members of different enums may share a value ("regulator", "approve"): each keeps its own label.
            for cls in _labeled_enums():
                for member in cls:
                    assert member.label == member._zh, f"{cls.__name__}.{member.name}"


# ---------------------------------------------------------------- the catalog is complete

def test_every_msgid_translated_with_its_placeholders(catalog):
    problems = []
    for m in catalog:
        if not m.id:
            continue
        assert isinstance(m.id, str), f"plural entry {m.id!r}: the catalog is plural-free"
        where = f"{m.id!r} ({', '.join(f'{p}:{n}' for p, n in m.locations[:2])})"
        if not (m.string or "").strip():
            problems.append(f"untranslated: {where}")
            continue
        if m.fuzzy:
            problems.append(f"fuzzy (pybabel compile skips it): {where}")
        if CJK.search(m.string):
            problems.append(f"Chinese left in the English text: {where} -> {m.string!r}")
        if _placeholders(m.id) != _placeholders(m.string):
            problems.append(f"placeholders differ: {where} -> {m.string!r}")
        # Jinja's newstyle gettext always applies `% variables`, even with none: a stray "%"
        # in a translation breaks the page.
        names = {n: "x" for n in re.findall(r"%\((\w+)\)", m.id)}
        try:
            m.string % names
        except (KeyError, ValueError, TypeError) as e:
            problems.append(f"not a valid format string ({e}): {where} -> {m.string!r}")
    assert not problems, "\n".join(problems)


def test_catalog_covers_every_extracted_msgid(translations):
    """Every _() in the code and templates (per babel.cfg) is in the English catalog."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    missing = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid not in translations:
            missing.setdefault(msgid, f"{filename}:{lineno}")
    assert not missing, ("not in the catalog; see portal/translations/README.md:\n"
                         + "\n".join(f"{where}  {msgid}" for msgid, where in missing.items()))


def test_compiled_catalog_matches_po(catalog):
    """messages.mo is what Flask-Babel loads: it must carry every translation of the .po."""
    assert MO.exists(), "run: pybabel compile -d portal/translations"
    with MO.open("rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    stale = [m.id for m in catalog if m.id and m.string and compiled.get(m.id) != m.string]
    assert not stale, f"messages.mo is out of date ({len(stale)} entries): pybabel compile -d portal/translations"


# ---------------------------------------------------------------- runtime labels are marked

def _labeled_enums():
    import portal.models  # noqa: F401 - every module that defines an enum
    import portal.cases.states  # noqa: F401
    from portal.labels import LabeledEnum

    def walk(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)
    return list(walk(LabeledEnum))


def _runtime_labels() -> list[tuple[str, str, Path]]:
    """Every label passed to gettext as a variable: (msgid, what it labels, the file defining it)."""
    from portal.cases import compensation, enums, operations, queries, timeline

    labels = []
    for cls in _labeled_enums():
        defined_in = Path(inspect.getsourcefile(cls))
        labels += [(m._zh, f"{cls.__module__}.{cls.__name__}.{m.name}", defined_in) for m in cls]
    for module, table in ((timeline, timeline.ACTION_LABELS), (queries, queries.SORT_LABELS),
                          (compensation, compensation.REASONS)):
        labels += [(label, f"{module.__name__}[{key!r}]", Path(module.__file__))
                   for key, label in table.items()]
    labels += [(label, f"SATISFACTION_DIMENSIONS[{field!r}]", Path(enums.__file__))
               for field, label in enums.SATISFACTION_DIMENSIONS]
    labels += [(t.label, f"TRANSITIONS[{name!r}]", Path(operations.__file__))
               for name, t in operations.TRANSITIONS.items()]
    return labels


@functools.cache
def _marked_in(path: Path) -> frozenset[str]:
    """The msgids `pybabel extract` finds in one file with its default keywords (N_ among them)."""
    return frozenset(message for _lineno, message, _comments, _context
                     in extract_from_file("python", str(path), keywords=DEFAULT_KEYWORDS)
                     if isinstance(message, str))


def test_runtime_labels_are_marked_where_they_are_defined():
    labels = _runtime_labels()
    assert len(labels) > 120  # the walk found the enums
    unmarked = [(zh, what, path) for zh, what, path in labels if zh not in _marked_in(path)]
    assert not unmarked, "mark each as N_(\"…\") where it is defined:\n" + "\n".join(
        f"{path.relative_to(ROOT)}: {what} = {zh!r}" for zh, what, path in unmarked)


def test_an_unmarked_label_is_not_extracted(tmp_path):
    """Why the marker is needed: a label written as a plain string is invisible to pybabel."""
    module = tmp_path / "example.py"
    module.write_text('from portal.labels import LabeledEnum, N_\n\n'
                      'class Colour(LabeledEnum):\n'
                      '    RED = "red", N_("红色")\n'
                      '    BLUE = "blue", "蓝色"\n')
    assert _marked_in(module) == {"红色"}


def test_runtime_labels_are_translated(translations):
    untranslated = {zh: what for zh, what, _path in _runtime_labels()
                    if not (translations.get(zh) or "").strip()}
    assert not untranslated, "translate in messages.po:\n" + "\n".join(
        f"{where}: {zh}" for zh, where in untranslated.items())


# ---------------------------------------------------------------- forms speak English too

def _ui_texts(html: str) -> list[str]:
    """What a user reads on a form besides the data: labels, legends, buttons, headings,
    options, placeholders, help and error messages."""
    tags = r"<(?:label|legend|button|h1|h2|h3|option|small|p class=\"(?:error|muted)\")[^>]*>(.*?)</"
    # " *" is the required-field marker after a label.
    texts = [re.sub(r"<[^>]+>", "", m).strip().rstrip(" *") for m in re.findall(tags, html, re.S)]
    texts += re.findall(r'placeholder="([^"]*)"', html)
    return [t for t in texts if t]


def _chunk(html: str, pattern: str) -> str:
    m = re.search(pattern, html, re.S)
    assert m, f"{pattern} not on the page"
    return m.group(0)


def test_intake_form_in_english(as_user):
    client = as_user("rep_cd")
    client.get("/lang/en")
    form = _chunk(client.get("/cases/new").get_data(as_text=True), r'<form id="intake".*?</form>')
    texts = _ui_texts(form)
    for label in ("Customer name", "Contact phone", "Customer type", "Batch number", "Production date",
                  "Problem description", "Urgent", "Submit complaint"):
        assert label in texts, label
    assert "Consumer" in texts  # enum choices are labelled per request, not at import
    assert not [t for t in texts if HAN.search(t)], [t for t in texts if HAN.search(t)]

    # The messages of a refused submission: our own, WTForms' built-in ones, the summary at the top.
    resp = client.post("/cases/new", data={"customer_phone": "x", "batch_no": "批号?", "quantity": "many",
                                           "csrf_token": csrf_from(client, "/cases/new")})
    assert resp.status_code == 400
    form = _chunk(resp.get_data(as_text=True), r'<form id="intake".*?</form>')
    errors = [re.sub(r"<[^>]+>", "", e) for e in re.findall(r'<p class="error" role="alert">(.*?)</p>', form)]
    assert "This field is required" in errors
    assert "Not a valid integer value." in errors
    assert any(e.startswith("A batch number may contain only") for e in errors), errors
    assert not [e for e in errors if HAN.search(e)], errors
    assert "The complaint was not submitted" in form


def test_verify_panel_in_english(as_user):
    case = make_case()
    client = as_user("desk")
    client.get("/lang/en")
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    panel = _chunk(html, r'<section class="card panel" id="panel-verify">.*?</section>')
    texts = _ui_texts(re.sub(r'<select id="verify-category_id".*?</select>', "", panel, flags=re.S))
    for label in ("Verify", "Verification result", "Substantiated", "Nature of complaint", "Complaint class",
                  "Cause category", "Submit verification"):
        assert label in texts, label
    assert not [t for t in texts if HAN.search(t)], [t for t in texts if HAN.search(t)]
    # The case's own facts are labelled in English (the customer's data stays as entered).
    assert "<dt>Customer</dt><dd>王秀英 (Consumer)</dd>" in html

    # A rule broken in the operation comes back in English as well.
    token = csrf_from(client, f"/cases/{case.number}")
    resp = client.post(f"/cases/{case.number}/act/verify", data={
        "verify-version": case.version, "verify-validity": "valid", "csrf_token": token})
    assert resp.status_code == 400
    assert "Please complete the required fields: Nature of complaint, Complaint class, Cause category" \
        in resp.get_data(as_text=True)
