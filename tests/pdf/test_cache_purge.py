"""The nightly cleanup (jobs/cleanup.py) removes draft PDFs of records that changed since, and
half-written renders, once they are two days old; the signed files stay, and a draft still
wanted is made again at its next download."""
from __future__ import annotations

import os
import time
from pathlib import Path

from portal.capa.document import sheet_pdf_path
from portal.cases.documents import signoff_pdf_path
from portal.pdf_cache import purge_drafts
from tests.conftest import make_case_at, make_sheet_at


def age(path: Path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_old_drafts_go_and_signed_sheets_stay(app):
    case = make_case_at("closed")
    signed = signoff_pdf_path(case, full_phone=True)
    sheet = make_sheet_at("approved")
    draft = sheet_pdf_path(sheet, None)  # 草稿: the verifier has not signed
    case_draft = signoff_pdf_path(make_case_at("approved"), full_phone=False, drafts=True)
    half = draft.with_name("CA-crashed.4242.part")  # a worker killed in the middle of a write
    half.write_bytes(b"%PDF-1.7 ...")
    fresh = draft.with_name(draft.name.replace("-draft-", "-draft-0"))  # a draft made today
    fresh.write_bytes(draft.read_bytes())
    for path in (signed, draft, case_draft, half):
        age(path, 49)

    assert purge_drafts(48) == 3
    assert not draft.exists() and not case_draft.exists() and not half.exists()
    assert signed.exists() and fresh.exists()
    # The sheet's next download makes its draft again.
    again = sheet_pdf_path(sheet, None)
    assert again == draft and again.read_bytes().startswith(b"%PDF")
    assert purge_drafts(48) == 0
