"""Exports (issue 13): any filtered case list, and other reports' tables, as CSV or XLSX.

Both writers stream: rows are turned into bytes as they are read, so the first bytes leave
at once and memory stays flat whatever the number of rows. A cell that a spreadsheet would
take for a formula (= + - @ first) is written as text: in CSV behind a quote character
(OWASP's advice for CSV injection), in XLSX as a string cell, never a formula.

The XLSX is written here rather than with openpyxl's write-only mode, which spools the
whole sheet to a temporary file and zips it only at save(): the first byte would come
after the last row. Here the zip is written as it goes (data descriptors, no seeking),
strings inline (no shared-string table growing in memory).
"""
from __future__ import annotations

import csv
import io
import re
import secrets
import time
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote
from xml.sax.saxutils import escape

import sqlalchemy as sa
from flask import Response, current_app, stream_with_context
from sqlalchemy.orm import aliased

from portal import clock
from portal.cases import access
from portal.cases.models import Case, Category, mask_phone
from portal.cases.queries import SORTS, CaseFilters, filter_clauses
from portal.extensions import db
from portal.i18n import locale_code, text
from portal.labels import N_
from portal.org.models import OrgUnit
from portal.signing import audit

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 500  # rows per chunk handed to the server (CSV) or taken out of the zip (XLSX)
CSV_MIME = "text/csv; charset=utf-8"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters XML 1.0 does not allow (the zip would open as a broken workbook).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# ---------------------------------------------------------------- cell values

def _plain(value) -> str | int | float | Decimal | bool | None:
    """A value as a cell holds it: times in local time to the minute, as the pages show them."""
    if isinstance(value, datetime):
        t = clock.as_utc(value).astimezone(clock.SHANGHAI)
        return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_cell(value) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return str(value)


def csv_chunks(header: list[str], rows: Iterable) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark: without it Excel reads the Chinese as the local code page."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow([csv_cell(h) for h in header])
    yield "\ufeff".encode() + buf.getvalue().encode()
    buf.seek(0)
    buf.truncate()
    for n, row in enumerate(rows, start=1):
        out.writerow([csv_cell(v) for v in row])
        if n % CHUNK_ROWS == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


def _column_letters(n: int) -> list[str]:
    letters = []
    for i in range(1, n + 1):
        s = ""
        while i:
            i, r = divmod(i - 1, 26)
            s = chr(65 + r) + s
        letters.append(s)
    return letters


def _xlsx_cell(ref: str, value, style: str = "") -> str:
    value = _plain(value)
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float, Decimal)):
        return f'<c r="{ref}"{style}><v>{value}</v></c>'
    value = escape(_XML_ILLEGAL.sub("", str(value)))
    return f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>'


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '</Types>')
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/></Relationships>')
# Two cell formats: 0 plain, 1 bold (the header row).
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
    'state="frozen"/></sheetView></sheetViews>'
    '<cols><col min="1" max="{n}" width="18" customWidth="1"/></cols><sheetData>')
_SHEET_TAIL = "</sheetData></worksheet>"


class _Outbox:
    """A write-only file for zipfile (tell but no seek, so it writes data descriptors
    instead of going back): what was written is taken out chunk by chunk."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.written = 0

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def xlsx_chunks(header: list[str], rows: Iterable, sheet_name: str = "Sheet1") -> Iterator[bytes]:
    out = _Outbox()
    letters = _column_letters(len(header))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK.format(name=escape(sheet_name[:31], {'"': "&quot;"})))
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        zf.writestr("xl/styles.xml", _STYLES)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_HEAD.format(n=max(1, len(header))).encode())
            sheet.write(('<row r="1">' + "".join(_xlsx_cell(f"{c}1", h, ' s="1"') for c, h in zip(letters, header))
                         + "</row>").encode())
            yield out.take()
            lines = []
            for n, row in enumerate(rows, start=2):
                lines.append(f'<row r="{n}">' + "".join(_xlsx_cell(f"{c}{n}", v) for c, v in zip(letters, row))
                             + "</row>")
                if len(lines) == CHUNK_ROWS:
                    sheet.write("".join(lines).encode())
                    lines.clear()
                    yield out.take()
            sheet.write(("".join(lines) + _SHEET_TAIL).encode())
    yield out.take()


def _disposition(filename: str) -> str:
    """The Chinese name for browsers that read filename* (all current ones), ASCII for others."""
    fallback = filename.encode("ascii", "ignore").decode() or "export"
    fallback = re.sub(r'[^\w.\-]', "_", fallback)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def _streamed(chunks: Iterator[bytes], mimetype: str, filename: str) -> Response:
    resp = Response(stream_with_context(chunks), mimetype=mimetype)
    resp.headers["Content-Disposition"] = _disposition(filename)
    resp.headers["Cache-Control"] = "no-store"  # personal data: not kept by caches
    resp.headers["X-Accel-Buffering"] = "no"  # a proxy in front passes the chunks on as they come
    return resp


def csv_response(filename: str, header: list[str], rows: Iterable) -> Response:
    """A streamed CSV download (UTF-8 with BOM; formula-looking cells quoted as text)."""
    return _streamed(csv_chunks(header, rows), CSV_MIME, filename)


def xlsx_response(filename: str, header: list[str], rows: Iterable) -> Response:
    """A streamed XLSX download (one sheet, bold frozen header, every string a text cell)."""
    return _streamed(xlsx_chunks(header, rows), XLSX_MIME, filename)


WRITERS = {"csv": (csv_chunks, CSV_MIME), "xlsx": (xlsx_chunks, XLSX_MIME)}


# ---------------------------------------------------------------- the case list

CASE_HEADER = (N_("编号"), N_("受理时间"), N_("状态"), N_("类别"), N_("原因"), N_("顾客"), N_("电话"), N_("产品"),
               N_("规格"), N_("生产批号"), N_("分公司"), N_("责任部门"), N_("当前环节"), N_("时限"), N_("结案时间"))
_branch, _unit = aliased(OrgUnit), aliased(OrgUnit)
_CASE_SELECT = (sa.select(Case.number, Case.received_at, Case.state, Case.klass, Category.name.label("category"),
                          Case.customer_name, Case.customer_phone, Case.product_name, Case.product_spec,
                          Case.batch_no, _branch.name.label("branch"), _unit.name.label("unit"), Case.step,
                          Case.due_at, Case.closed_at)
                .outerjoin(Category, Category.id == Case.category_id)
                .outerjoin(_branch, _branch.id == Case.branch_id)
                .outerjoin(_unit, _unit.id == Case.responsible_unit_id))


def case_query(user, f: CaseFilters):
    """The list's own cases for `user` and `f` (its filters and scope), in the list's order."""
    return _CASE_SELECT.where(*filter_clauses(user, f)).order_by(*SORTS[f.sort])


def count_upto(user, f: CaseFilters, limit: int) -> int:
    """How many cases the export holds, counted no further than `limit` (a full count at a
    million rows costs more than it tells)."""
    inner = sa.select(Case.id).where(*filter_clauses(user, f)).limit(limit)
    return db.session.execute(sa.select(sa.func.count()).select_from(inner.subquery())).scalar_one()


def _streamed_rows(q):
    """The rows through a server-side cursor (a thousand at a time, never all in memory).
    PostgreSQL keeps such a cursor only inside a transaction block, and a GET reads in
    autocommit (portal/dbreads.py): this read takes its block back, as a GET that writes does."""
    conn = db.session.connection()
    dbapi = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql" and dbapi.autocommit:
        dbapi.autocommit = False
    return conn.execute(q.execution_options(yield_per=1000))


def case_header(code: str | None = None) -> list[str]:
    code = code or locale_code()
    return [text(h, code) for h in CASE_HEADER]


def case_rows(user, f: CaseFilters, code: str | None = None, progress=None) -> Iterator[tuple]:
    """The export's rows as the viewer's pages show them: labels in their language, the phone
    whole only for the roles whose case page shows it whole (access.sees_full_phone).

    What depends on the user is settled here, not when the rows are read: the audit's commit
    (record_export) comes in between and expires the signed-in user."""
    full_phone = access.sees_full_phone(None, user)  # decided by role alone
    return _case_rows(case_query(user, f), full_phone, code or locale_code(), progress)


def _case_rows(q, full_phone: bool, code: str, progress) -> Iterator[tuple]:
    def lbl(member):  # text() keeps each label once per language
        return text(member._zh, code) if member is not None else None

    hq = text("总部", code)
    for n, r in enumerate(_streamed_rows(q), start=1):
        yield (r.number, r.received_at, lbl(r.state), lbl(r.klass), r.category, r.customer_name,
               r.customer_phone if full_phone else mask_phone(r.customer_phone), r.product_name,
               r.product_spec, r.batch_no, r.branch or hq, r.unit, lbl(r.step), r.due_at, r.closed_at)
        if progress is not None and n % 1000 == 0:
            progress(n)


def record_export(user, f: CaseFilters, fmt: str, rows: int | None) -> None:
    """Customers' details leave in a file: who took which list (its filters) and how many
    rows (None: a worker's job, counted there), audited in a transaction of its own before
    the first byte goes out."""
    audit.record("cases_exported", actor=user, object_type="case_list", object_id=None,
                 after={"format": fmt, "filters": f.as_args(), "rows": rows})
    db.session.commit()


def export_filename(fmt: str, code: str | None = None) -> str:
    stamp = clock.local(clock.utcnow()).strftime("%Y%m%d-%H%M")
    return f"{text('投诉列表', code or locale_code())}-{stamp}.{fmt}"


def stream_max() -> int:
    """Up to this many rows an export streams in the request; more go to a worker (a sync
    web worker held for a minute is one the other users wait for)."""
    return current_app.config.get("EXPORT_STREAM_MAX", 20_000)


# ---------------------------------------------------------------- big exports: a worker job

JOB_TTL = 24 * 3600  # the job's record and its file are kept a day


def export_dir() -> Path:
    path = Path(current_app.config["UPLOAD_DIR"]) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _key(token: str) -> str:
    return f"portal:export:{token}"


def _rq_id(token: str) -> str:
    return f"export-{token}"


def start_export(user, f: CaseFilters, fmt: str, code: str) -> str | None:
    """Record the export in Redis and hand it to a worker; its token, or None if Redis did
    not take it (the page says so; nothing is left half done)."""
    from portal import queues
    token = secrets.token_urlsafe(18)
    args = f.as_args()
    record = {"user_id": user.id, "format": fmt, "status": "queued", "done": 0, "total": 0,
              "filename": export_filename(fmt, code), "locale": code,
              "args": "&".join(f"{k}={quote(str(v))}" for k, v in args.items())}
    try:
        r = queues.redis()
        r.hset(_key(token), mapping=record)
        r.expire(_key(token), JOB_TTL)
    except Exception:  # noqa: BLE001 - Redis down: no job, the page says so
        return None
    if not queues.enqueue("default", "jobs.exports.run_export", token, job_id=_rq_id(token), job_timeout=1800,
                          failure_ttl=JOB_TTL):
        return None  # the record expires with nobody pointing at it
    record_export(user, f, fmt, None)
    return token


def export_job(token: str) -> dict | None:
    from portal import queues
    raw = queues.redis().hgetall(_key(token))
    if not raw:
        return None
    job = {k.decode(): v.decode() for k, v in raw.items()}
    for name in ("user_id", "done", "total"):
        job[name] = int(job[name])
    if job["status"] in ("queued", "running") and _worker_gave_up(token):
        job["status"] = "failed"
    return job


def _worker_gave_up(token: str) -> bool:
    """The RQ job failed (an error, its time out, a killed work-horse) or is gone."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from portal import queues
    try:
        status = Job.fetch(_rq_id(token), connection=queues.redis()).get_status(refresh=False)
    except NoSuchJobError:
        return True
    return status in ("failed", "stopped", "canceled")


def export_path(token: str, job: dict) -> Path:
    return export_dir() / f"{token}.{job['format']}"


def purge_exports(max_age_hours: int = JOB_TTL // 3600) -> int:
    """Delete export files, and half-written ones, past their record's life (jobs/cleanup.py):
    no page links to them any more, and they hold customers' details."""
    cutoff = time.time() - max_age_hours * 3600
    removed = 0
    for path in export_dir().iterdir():
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def run_export(token: str) -> str:
    """The worker's part: the same rows as the streamed download, written to a file, the
    count of rows written kept in the record for the page's progress bar."""
    from urllib.parse import parse_qsl

    from flask_babel import force_locale
    from werkzeug.datastructures import MultiDict

    from portal import queues
    from portal.org.models import User
    job = export_job(token)
    if job is None:
        return "gone"
    r = queues.redis()
    user = db.session.get(User, job["user_id"])
    f = CaseFilters.from_args(MultiDict(parse_qsl(job["args"])))
    chunks, _ = WRITERS[job["format"]]
    path = export_path(token, job)
    part = path.with_suffix(".part")
    total = count_upto(user, f, 10_000_000)  # a worker can afford the full count, for the bar
    r.hset(_key(token), mapping={"status": "running", "done": 0, "total": total})

    def progress(n):
        r.hset(_key(token), "done", n)

    with force_locale(job["locale"]):
        code = locale_code()
        with part.open("wb") as out:
            for chunk in chunks(case_header(code), case_rows(user, f, code, progress)):
                out.write(chunk)
    part.replace(path)  # the download appears whole or not at all
    r.hset(_key(token), mapping={"status": "done", "done": total})
    return "done"
