"""Import of products or batches from a CSV or XLSX file, run by a worker (jobs/imports.py).

Two passes. The first reads the stored file and checks every row against the rules the
admin's form applies (portal/catalog/rules.py), reporting its progress in
ImportJob.done_rows, committed every PROGRESS_EVERY rows for the page that polls it; the
checked rows go to a spool file beside the upload, so memory stays flat whatever the file's
size and the file is parsed once. Only when no row is wrong does the second pass write
every spooled row in one transaction, together with the job's outcome and its audit event:
all rows or none.

Cells are read for their values (openpyxl `data_only`, CSV as text): "=1+1" in a cell is the
text "=1+1"; a formula is never evaluated (its value cached by the spreadsheet program is
what is read, and nothing if it has none).
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import pickle
import re
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_locale, gettext as _
from sqlalchemy.exc import IntegrityError

from portal.batches.models import Batch, Product
from portal.catalog import rules
from portal.catalog.models import ImportJob, ImportKind, ImportStatus
from portal.catalog.operations import require_admin
from portal.cases.evidence import clean_name
from portal.clock import utcnow
from portal.errors import Conflict, ValidationError
from portal.extensions import db
from portal.i18n import locale_code
from portal.org.enums import UnitKind
from portal.org.models import OrgUnit, User
from portal.queues import enqueue, redis
from portal.signing import audit

MAX_IMPORT_BYTES = 30 * 1024 * 1024  # 100,000 batch rows are ~9 MB of CSV, ~5 MB of XLSX
MAX_ROWS = 200_000
ERROR_LIMIT = 200  # rows with errors kept for the page; the count covers them all
PROGRESS_EVERY = 500
WRITE_CHUNK = 2000  # rows per executemany
JOB_TIMEOUT = 3600
RQ_JOB_ID = "catalog-import-{}"
EXTENSIONS = (".csv", ".xlsx")


class FileProblem(Exception):
    """The file as a whole cannot be read as this kind of import (no row to blame)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def import_dir() -> Path:
    path = Path(current_app.config["UPLOAD_DIR"]) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- columns

@dataclass(frozen=True)
class Column:
    name: str  # key the cleaners use
    headers: tuple[str, ...]  # what the header row may call it (the first is the template's)
    required: bool = False


COLUMNS = {
    ImportKind.BATCHES: (
        Column("batch_no", ("批号", "生产批号", "batch_no"), True),
        Column("product_code", ("产品编码", "产品代码", "product_code"), True),
        Column("production_date", ("生产日期", "production_date"), True),
        Column("production_unit", ("生产部门", "生产单位", "production_unit"), True),
        Column("line", ("生产线", "line")),
        Column("shift", ("班次", "shift")),
        Column("quantity", ("生产数量", "数量", "quantity")),
        Column("shipped_regions", ("发往地区", "发货地区", "shipped_regions")),
    ),
    ImportKind.PRODUCTS: (
        Column("code", ("产品编码", "产品代码", "code"), True),
        Column("name", ("产品名称", "名称", "name"), True),
        Column("spec", ("规格", "spec")),
        Column("unit_price", ("单价", "unit_price")),
    ),
}


def template_header(kind: ImportKind) -> list[str]:
    return [c.headers[0] for c in COLUMNS[kind]]


def _header_key(text) -> str:
    return "".join(rules.as_text(text).split()).strip("*＊").lower()


def _map_header(kind: ImportKind, header: tuple) -> dict[str, int]:
    return map_columns(COLUMNS[kind], header)


def map_columns(columns: tuple[Column, ...], header: tuple) -> dict[str, int]:
    """Column name -> position in the row; FileProblem if a required column is missing.
    (Also the other imports' header rule: portal/reports/history.py.)"""
    wanted = {_header_key(h): c.name for c in columns for h in c.headers}
    positions: dict[str, int] = {}
    for i, cell in enumerate(header):
        name = wanted.get(_header_key(cell))
        if name is None:
            continue  # extra columns (remarks, ERP fields) are left alone
        if name in positions:
            raise FileProblem(_("第 1 行的表头中「%(column)s」出现了两次。", column=rules.as_text(cell)))
        positions[name] = i
    missing = [c.headers[0] for c in columns if c.required and c.name not in positions]
    if missing:
        raise FileProblem(_("第 1 行应为表头，缺少必填列：%(columns)s。可下载模板对照。",
                            columns="、".join(missing)))
    return positions


# ---------------------------------------------------------------- reading the file

def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) as most tools write; else GB18030, the superset of the GBK
    that Excel on a Chinese Windows saves "CSV" in."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "gb18030"


def _csv_rows(path: Path) -> Iterator[tuple[int, tuple]]:
    with path.open(encoding=_csv_encoding(path), errors="strict", newline="") as f:
        try:
            for number, row in enumerate(csv.reader(f), 1):
                yield number, tuple(row)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FileProblem(_("CSV 文件无法读取：%(reason)s", reason=str(exc)[:200])) from None


def _xlsx_rows(path: Path) -> Iterator[tuple[int, tuple]]:
    from openpyxl import load_workbook
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError):
        raise FileProblem(_("文件不是有效的 Excel（.xlsx）文件。")) from None
    try:
        if not book.worksheets:
            raise FileProblem(_("Excel 文件中没有工作表。"))
        # Row numbers as the spreadsheet shows them: openpyxl yields empty rows for gaps.
        yield from enumerate(book.worksheets[0].iter_rows(values_only=True), 1)
    finally:
        book.close()


def read_rows(path: Path) -> Iterator[tuple[int, tuple]]:
    """(row number as the spreadsheet program shows it, cell values), the header first."""
    return _xlsx_rows(path) if path.suffix == ".xlsx" else _csv_rows(path)


_XML_ROW = re.compile(rb"<(?:\w+:)?row[\s>/]")


def _xlsx_row_count(path: Path) -> int | None:
    """The first sheet's rows: from its dimension, which Excel writes, else by counting its
    <row> elements in the XML (a write-only openpyxl or an ERP export leaves no dimension)."""
    from openpyxl import load_workbook
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        if not book.worksheets:
            return None
        sheet = book.worksheets[0]
        if sheet.max_row:
            return sheet.max_row
        rows, tail = 0, b""
        with zipfile.ZipFile(path) as archive, archive.open(sheet._worksheet_path) as xml:
            while chunk := xml.read(1 << 20):
                data = tail + chunk
                rows += len(_XML_ROW.findall(data))
                tail = data[-8:] if not _XML_ROW.search(data[-8:]) else b""
        return rows
    finally:
        book.close()


def count_rows(path: Path) -> int | None:
    """How many rows follow the header, for the progress bar (None if the file does not say)."""
    if path.suffix == ".xlsx":
        try:
            rows = _xlsx_row_count(path)
        except Exception:  # noqa: BLE001 - the check pass reports an unreadable file
            return None
        return max(rows - 1, 0) if rows else None
    try:
        with path.open(encoding=_csv_encoding(path), newline="") as f:
            return max(sum(1 for _row in csv.reader(f)) - 1, 0)
    except (csv.Error, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------- checking rows

class Register:
    """What rows are checked against, read once per import: products, departments, and the
    records already there (a row naming one updates it)."""

    def __init__(self, kind: ImportKind):
        self.kind = kind
        self.fields = rules.product_fields() if kind is ImportKind.PRODUCTS else rules.batch_fields()
        if kind is ImportKind.BATCHES:
            self.products = dict(db.session.execute(
                sa.select(sa.func.upper(Product.code), Product.id)).all())
            self.units: dict[str, int] = {}
            for unit_id, name, code in db.session.execute(
                    sa.select(OrgUnit.id, OrgUnit.name, OrgUnit.code)
                    .where(OrgUnit.kind == UnitKind.DEPARTMENT, OrgUnit.active.is_(True))):
                self.units[name] = self.units[code.upper()] = unit_id
            self.existing = dict(db.session.execute(sa.select(Batch.batch_no, Batch.id)).all())
        else:
            self.existing = dict(db.session.execute(
                sa.select(sa.func.upper(Product.code), Product.id)).all())

    def check(self, raw: dict) -> tuple[dict, list[str]]:
        """A row's stored values, and its errors (each field's, in column order)."""
        if self.kind is ImportKind.PRODUCTS:
            values, errors = rules.clean(raw, self.fields)
            return values, list(errors.values())
        values, errors = rules.clean(raw, self.fields)
        messages = []
        for column in COLUMNS[self.kind]:
            if column.name in errors:
                messages.append(errors[column.name])
            elif column.name == "product_code":
                code = rules.as_text(raw.get("product_code")).upper()
                if not code:
                    messages.append(_("请填写产品编码。"))
                elif code not in self.products:
                    messages.append(_("产品编码「%(code)s」不在产品目录中。", code=code[:32]))
                else:
                    values["product_id"] = self.products[code]
            elif column.name == "production_unit":
                text = rules.as_text(raw.get("production_unit"))
                unit_id = self.units.get(text) or self.units.get(text.upper())
                if not text:
                    messages.append(_("请填写生产部门。"))
                elif unit_id is None:
                    messages.append(_("找不到在用的生产部门「%(unit)s」（填部门名称或编码）。", unit=text[:40]))
                else:
                    values["production_unit_id"] = unit_id
        return values, messages

    def key(self, values: dict) -> str:
        return values["batch_no"] if self.kind is ImportKind.BATCHES else values["code"]


def checked_rows(path: Path, register: Register) -> Iterator[tuple[int, dict | None, list[str]]]:
    """(row number, values or None, errors) for each non-blank data row; a key repeated in
    the file is an error of the later row."""
    rows = read_rows(path)
    try:
        _number, header = next(rows)
    except StopIteration:
        raise FileProblem(_("文件是空的。")) from None
    positions = _map_header(register.kind, header)
    seen: dict[str, int] = {}
    data_rows = 0
    for number, cells in rows:
        if not any(rules.as_text(c) for c in cells):
            continue  # blank rows (Excel keeps formatted ones at the end)
        data_rows += 1
        if data_rows > MAX_ROWS:
            raise FileProblem(_("文件超过 %(n)s 行，请分成几个文件导入。", n=MAX_ROWS))
        raw = {name: cells[i] if i < len(cells) else None for name, i in positions.items()}
        values, errors = register.check(raw)
        if not errors:
            key = register.key(values)
            if key in seen:
                errors = [_("「%(key)s」与第 %(row)s 行重复。", key=key, row=seen[key])]
            else:
                seen[key] = number
        yield number, (None if errors else values), errors


# ---------------------------------------------------------------- starting an import

def _store(file, name: str) -> tuple[str, str]:
    """Copy the upload to the import folder; (stored name, SHA-256). Bounded, never empty."""
    ext = Path(name).suffix.lower()
    stored = f"{secrets.token_hex(16)}{ext}"
    digest, size = hashlib.sha256(), 0
    target = import_dir() / stored
    stream = file.stream if hasattr(file, "stream") else file
    try:
        with target.open("wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > MAX_IMPORT_BYTES:
                    raise ValidationError(_("文件超过 %(mb)s MB，请分成几个文件导入。",
                                            mb=MAX_IMPORT_BYTES // (1024 * 1024)))
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError(_("文件「%(name)s」是空的。", name=name))
        with target.open("rb") as f:
            head = f.read(4096)
        if ext == ".xlsx" and not head.startswith(b"PK\x03\x04"):
            raise ValidationError(_("文件「%(name)s」不是有效的 Excel（.xlsx）文件。", name=name))
        if ext == ".csv" and b"\x00" in head:
            raise ValidationError(_("文件「%(name)s」不是文本格式的 CSV 文件。", name=name))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return stored, digest.hexdigest()


def start_import(actor: User, kind, file) -> ImportJob:
    """Store the upload, record the job and hand it to a worker; the rows are checked there."""
    require_admin(actor)
    kind = ImportKind.get(kind)
    if kind is None:
        raise ValidationError(_("请选择导入产品还是批号。"), {"kind": _("请选择导入产品还是批号。")})
    name = clean_name(getattr(file, "filename", None)) if file else ""
    if not file or not getattr(file, "filename", None):
        raise ValidationError(_("请选择要导入的文件。"), {"file": _("请选择要导入的文件。")})
    if Path(name).suffix.lower() not in EXTENSIONS:
        message = _("只能导入 CSV（.csv）或 Excel（.xlsx）文件；.xls 请先另存为 .xlsx。")
        raise ValidationError(message, {"file": message})
    stored, sha256 = _store(file, name)
    job = ImportJob(kind=kind, status=ImportStatus.QUEUED, filename=name, stored_name=stored,
                    sha256=sha256, created_by_id=actor.id, done_rows=0, created_rows=0,
                    updated_rows=0, error_count=0)
    db.session.add(job)
    try:
        db.session.flush()
        audit.record("catalog_import_started", actor=actor, object_type="import_job",
                     object_id=job.id, after={"kind": kind.value, "filename": name, "sha256": sha256})
        db.session.commit()
    except Exception:
        db.session.rollback()
        (import_dir() / stored).unlink(missing_ok=True)
        raise
    _hand_over(job.id)
    return job


def _hand_over(job_id: int) -> None:
    """To the workers, with the language of the admin's page: the rows' errors are written
    in it."""
    if not enqueue("default", "jobs.imports.run_import", job_id, locale_code(),
                   job_id=RQ_JOB_ID.format(job_id), job_timeout=JOB_TIMEOUT, failure_ttl=7 * 86400):
        _finish(job_id, ImportStatus.FAILED,
                message=_("后台任务服务暂时不可用，导入没有开始。请稍后重新上传。"))


def interrupted(job: ImportJob) -> bool:
    """Whether the worker running this import died (killed, out of memory, past its time
    limit) before the import finished: then no worker will finish it, and the page offers
    to start it again instead of waiting."""
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus
    if job.status.finished:
        return False
    try:
        rq_job = Job.fetch(RQ_JOB_ID.format(job.id), connection=redis())
        return rq_job.get_status() in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)
    except NoSuchJobError:
        return job.status is not ImportStatus.QUEUED  # begun, and its RQ job is gone
    except RedisError:
        return False  # cannot tell: keep waiting


def restart_import(actor: User, job: ImportJob) -> ImportJob:
    """Hand an interrupted import to the workers again; it starts over from the first row."""
    require_admin(actor)
    if not interrupted(job):
        raise Conflict(_("该导入没有中断，不需要重新开始。"))
    if not (import_dir() / job.stored_name).exists():
        _finish(job.id, ImportStatus.FAILED, message=_("上传的文件已不在服务器上，请重新上传。"))
        return job
    # Of two admins pressing at once, one moves the job back to the queue.
    moved = db.session.execute(sa.update(ImportJob).where(
        ImportJob.id == job.id, ImportJob.status == job.status).values(status=ImportStatus.QUEUED, done_rows=0))
    if moved.rowcount != 1:
        db.session.rollback()
        raise Conflict(_("该导入已由他人重新开始。"))
    audit.record("catalog_import_restarted", actor=actor, object_type="import_job", object_id=job.id,
                 before={"status": job.status.value}, after={"status": ImportStatus.QUEUED.value})
    db.session.commit()
    _hand_over(job.id)
    return job


# ---------------------------------------------------------------- the worker's part

def _update(job_id: int, **values) -> None:
    db.session.execute(sa.update(ImportJob).where(ImportJob.id == job_id).values(**values))
    db.session.commit()


def _spool_of(path: Path) -> Path:
    return path.with_name(path.name + ".rows")


_FINISHED = [s for s in ImportStatus if s.finished]


def _finish(job_id: int, status: ImportStatus, **values) -> None:
    """The outcome, unless the job already has one (a second run of the same job, which
    fails on the first run's rows, leaves that run's 'done' as it is)."""
    db.session.execute(sa.update(ImportJob).where(ImportJob.id == job_id, ImportJob.status.notin_(_FINISHED))
                       .values(status=status, finished_at=utcnow(), **values))
    db.session.commit()
    _remove_files(db.session.get(ImportJob, job_id))


def _remove_files(job: ImportJob) -> None:
    path = import_dir() / job.stored_name
    path.unlink(missing_ok=True)
    _spool_of(path).unlink(missing_ok=True)


def run_import(job_id: int, locale: str = "zh_CN") -> ImportStatus | None:
    """Check every row; if all are right, write them all. Safe to run again (a worker that
    died mid-way): a finished job is left as it is, an unfinished one starts over, and the
    rows and the 'done' status are committed together or not at all."""
    with force_locale(locale if locale in ("zh_CN", "en") else "zh_CN"):
        return _run(job_id)


def _run(job_id: int) -> ImportStatus | None:
    job = db.session.get(ImportJob, job_id)
    if job is None or job.status.finished:
        return job.status if job else None
    path = import_dir() / job.stored_name
    if not path.exists():
        _finish(job_id, ImportStatus.FAILED, message=_("上传的文件已不在服务器上，请重新上传。"))
        return ImportStatus.FAILED
    register = Register(job.kind)
    _update(job_id, status=ImportStatus.CHECKING, total_rows=count_rows(path), done_rows=0,
            error_count=0, errors=None, message=None)
    try:
        errors, rows = _check_all(job_id, path, register)
    except FileProblem as exc:
        db.session.rollback()
        _finish(job_id, ImportStatus.REFUSED, message=exc.message)
        return ImportStatus.REFUSED
    if errors:
        _finish(job_id, ImportStatus.REFUSED, total_rows=rows, done_rows=rows,
                error_count=len(errors), errors=[list(e) for e in errors[:ERROR_LIMIT]])
        return ImportStatus.REFUSED
    _update(job_id, status=ImportStatus.WRITING, total_rows=rows, done_rows=rows)
    try:
        _write_all(job_id, _spool_of(path), register)
    except IntegrityError:
        db.session.rollback()
        _finish(job_id, ImportStatus.FAILED, message=_(
            "写入时发现有编码或批号刚被他人录入，本次没有导入任何行。请重新上传该文件。"))
        return ImportStatus.FAILED
    except Exception:
        db.session.rollback()
        _finish(job_id, ImportStatus.FAILED, message=_("导入时发生内部错误，没有导入任何行。请联系系统管理员。"))
        raise
    _remove_files(db.session.get(ImportJob, job_id))
    return ImportStatus.DONE


def _check_all(job_id: int, path: Path, register: Register) -> tuple[list[tuple[int, str]], int]:
    """The errors (row number, reasons) and the number of data rows; the good rows are
    spooled for the write pass until the first error (after it nothing will be written)."""
    errors: list[tuple[int, str]] = []
    rows = 0
    separator = "; " if get_locale().language == "en" else "；"  # between one row's reasons
    with _spool_of(path).open("wb") as spool:
        for number, values, messages in checked_rows(path, register):
            rows += 1
            if messages:
                errors.append((number, separator.join(messages)))
            elif not errors:
                pickle.dump(values, spool, pickle.HIGHEST_PROTOCOL)
            if rows % PROGRESS_EVERY == 0:
                _update(job_id, done_rows=rows, error_count=len(errors))
    if rows == 0:
        raise FileProblem(_("文件只有表头，没有数据行。"))
    return errors, rows


def _spooled(spool: Path) -> Iterator[dict]:
    """The rows the check pass wrote (our own file, beside the upload)."""
    with spool.open("rb") as f:
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


def _writer(register: Register) -> tuple[Callable, Callable]:
    """(insert, update) statements for executemany, each a function of a list of rows."""
    if register.kind is ImportKind.BATCHES:
        table = Batch.__table__
        fields = ("product_id", "production_date", "production_unit_id", "line", "shift",
                  "quantity", "shipped_regions")
    else:
        table = Product.__table__
        fields = ("name", "spec", "unit_price")
    insert = sa.insert(table)
    # Bound names differ from the columns': SQLAlchemy reserves those for its own SET clause.
    update = (sa.update(table).where(table.c.id == sa.bindparam("row_id"))
              .values({**{f: sa.bindparam(f"new_{f}") for f in fields}, "version": table.c.version + 1}))

    def add(rows):
        db.session.execute(insert, [{**r, "active": True, "version": 1} for r in rows])

    def change(rows):
        db.session.execute(update, [{"row_id": row_id, **{f"new_{f}": r[f] for f in fields}}
                                    for row_id, r in rows])
    return add, change


def _write_all(job_id: int, spool: Path, register: Register) -> tuple[int, int]:
    """Every row in one transaction with the job's outcome and its audit event; a row whose
    key is in the register updates that record."""
    add, change = _writer(register)
    new, old = [], []
    created = updated = 0
    for values in _spooled(spool):
        row_id = register.existing.get(register.key(values))
        if row_id is None:
            new.append(values)
        else:
            old.append((row_id, values))
        if len(new) >= WRITE_CHUNK:
            add(new)
            created += len(new)
            new = []
        if len(old) >= WRITE_CHUNK:
            change(old)
            updated += len(old)
            old = []
    if new:
        add(new)
        created += len(new)
    if old:
        change(old)
        updated += len(old)
    job = db.session.get(ImportJob, job_id)
    job.status, job.finished_at = ImportStatus.DONE, utcnow()
    job.created_rows, job.updated_rows = created, updated
    audit.record("catalog_imported", actor=job.created_by, object_type="import_job", object_id=job.id,
                 after={"kind": job.kind.value, "filename": job.filename, "sha256": job.sha256,
                        "created": created, "updated": updated})
    db.session.commit()
    return created, updated
