"""History from day one: the complaint ledger kept before the portal (Excel or CSV), imported
as monthly counts per cause category and branch, so this year's chart has last year beside it.

A file is either monthly counts (月份, 投诉类别, 分公司, 投诉数量) or one row per past complaint
(受理日期, 投诉类别, 分公司, …), counted here per month, category and branch. Every row is
checked before anything is written (the catalog import's reading and header rules,
portal/catalog/importing.py); one wrong row and nothing is imported, the page listing each
wrong row by its number. A ledger row for a month, category and branch already imported is
replaced (the newer file corrects the older).

Where the ledger and the portal meet: the portal's own cases count from the month of its
first case; the ledger fills only the months before it, so no month is counted twice."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask_babel import get_locale, gettext as _
from sqlalchemy.orm import relationship

from portal.catalog import importing, rules
from portal.cases.access import ALL_SEEING
from portal.cases.evidence import clean_name
from portal.cases.models import Case, Category
from portal.clock import local, utcnow
from portal.errors import PermissionDenied, ValidationError
from portal.extensions import db
from portal.labels import LabeledEnum, N_
from portal.models_base import created_column, enum_type
from portal.org.enums import Role, UnitKind
from portal.org.models import OrgUnit, User
from portal.org.tree import unit_tree
from portal.signing import audit

MAX_ROWS = 50_000  # checked in the request: a few years of a ledger, a few seconds
MAX_COUNT = 1_000_000  # complaints in one month, category and branch
EDITORS = {Role.ADMIN, Role.QUALITY}
LEDGER_LOCK = 0x6C656467  # "ledg": the advisory lock two ledger imports take turns on


class LedgerSource(LabeledEnum):
    COUNTS = "counts", N_("月度汇总")
    CASES = "cases", N_("逐条投诉")


class LedgerImport(db.Model):
    """One imported file, for the page's list and the audit trail."""
    __tablename__ = "ledger_import"
    id = sa.Column(sa.Integer, primary_key=True)
    source = sa.Column(enum_type(LedgerSource, length=16), nullable=False)
    filename = sa.Column(sa.String(120), nullable=False)
    sha256 = sa.Column(sa.String(64), nullable=False)
    data_rows = sa.Column(sa.Integer, nullable=False)  # rows of the file
    ledger_rows = sa.Column(sa.Integer, nullable=False)  # month × category × branch written
    created_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    created_at = created_column()

    created_by = relationship("User")


class LedgerMonth(db.Model):
    """Complaints of one month (its first day), cause category and branch before the portal;
    category or branch empty where the old ledger did not say."""
    __tablename__ = "ledger_month"
    id = sa.Column(sa.Integer, primary_key=True)
    month = sa.Column(sa.Date, nullable=False)
    category_id = sa.Column(sa.Integer, sa.ForeignKey("category.id"))
    branch_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"))
    count = sa.Column(sa.Integer, nullable=False)
    source = sa.Column(enum_type(LedgerSource, length=16), nullable=False)
    import_id = sa.Column(sa.Integer, sa.ForeignKey("ledger_import.id"), nullable=False)

    __table_args__ = (sa.Index("ix_ledger_month_month", "month"),)


# ---------------------------------------------------------------- the dashboard's contract

def first_case_month() -> date | None:
    """The first day of the Asia/Shanghai month of the portal's first case (None: no case yet)."""
    first = db.session.execute(sa.select(sa.func.min(Case.received_at))).scalar()
    if first is None:
        return None
    first = local(first)
    return date(first.year, first.month, 1)


def _scope(user) -> sa.ColumnElement | None:
    """The ledger rows a user may count, as the case list scopes cases by branch (None: all).
    The ledger knows no responsible department: a department's leader sees none of it."""
    if user is None or user.roles & ALL_SEEING:
        return None
    if user.unit is not None and user.unit.kind == UnitKind.COMPANY:
        return None
    branches = set()
    if Role.LEADER in user.roles:
        branches |= unit_tree().subtree(user.unit_id)
    if Role.REP in user.roles and user.branch_id() is not None:
        branches |= unit_tree().subtree(user.branch_id())
    return LedgerMonth.branch_id.in_(branches) if branches else sa.false()


def monthly_counts(year: int, filters=None, user=None) -> dict[int, int]:
    """{month number 1–12: complaints} from the imported ledger for `year`, only for the months
    before the portal's first case (from that month on the cases count; see the module's
    docstring); a month absent from the dict has no ledger row.

    `filters`: anything with the case list's `branch`, `category`, `product` and `unit`
    strings (portal.cases.queries.CaseFilters, the dashboard's DashFilters) or None. Branch
    and category filter as the case list does (a branch with its sub-units, a category with
    its subcategories, "none" for rows without one); a product or department filter gives {}
    (the ledger does not know them, and a partial count would mislead). `user` scopes by
    branch as the case list does (None: no scoping, for jobs)."""
    f = filters
    if f is not None and (getattr(f, "product", "") or getattr(f, "unit", "")):
        return {}
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    cutover = first_case_month()
    if cutover is not None:
        end = min(end, cutover)
    if end <= start:
        return {}
    where = [LedgerMonth.month >= start, LedgerMonth.month < end]
    if (clause := _scope(user)) is not None:
        where.append(clause)
    category = getattr(f, "category", "") if f is not None else ""
    branch = getattr(f, "branch", "") if f is not None else ""
    if category == "none":
        where.append(LedgerMonth.category_id.is_(None))
    elif category.isdigit():
        children = sa.select(Category.id).where(Category.parent_id == int(category))
        where.append(sa.or_(LedgerMonth.category_id == int(category), LedgerMonth.category_id.in_(children)))
    if branch == "none":
        where.append(LedgerMonth.branch_id.is_(None))
    elif branch.isdigit():
        where.append(LedgerMonth.branch_id.in_(unit_tree().subtree(int(branch))))
    rows = db.session.execute(sa.select(LedgerMonth.month, sa.func.sum(LedgerMonth.count))
                              .where(*where).group_by(LedgerMonth.month))
    out: dict[int, int] = {}
    for month, n in rows:
        out[month.month] = int(n)
    return out


# ---------------------------------------------------------------- importing the ledger

Column = importing.Column
COLUMNS = {
    LedgerSource.COUNTS: (
        Column("month", ("月份", "年月", "month"), True),
        Column("category", ("投诉类别", "原因类别", "类别", "category")),
        Column("branch", ("分公司", "branch")),
        Column("count", ("投诉数量", "投诉量", "数量", "count"), True),
    ),
    LedgerSource.CASES: (
        Column("month", ("受理日期", "投诉日期", "日期", "received_date"), True),
        Column("category", ("投诉类别", "原因类别", "类别", "category")),
        Column("branch", ("分公司", "branch")),
    ),
}


def template_header(source: LedgerSource) -> list[str]:
    return [c.headers[0] for c in COLUMNS[source]]


def require_editor(actor: User) -> None:
    if actor is None or not actor.roles & EDITORS:
        raise PermissionDenied(_("只有品保或系统管理员可以导入历史数据和产量。"))


def parse_month(value, label: str) -> date:
    """A month from a date cell or text such as 2025-03, 2025/3, 2025年3月, 202503 or a day of
    it; not before 2000 nor after this month."""
    if isinstance(value, date):  # a datetime is a date too
        month = date(value.year, value.month, 1)
    else:
        s = rules.as_text(value)
        if not s:
            raise rules.FieldError(_("请填写%(label)s。", label=label))
        month = _month_of(s)
        if month is None:
            raise rules.FieldError(_("%(label)s「%(value)s」无效，请写成 2025-03。", label=label, value=s[:20]))
    today = local(utcnow()).date()
    if month < date(2000, 1, 1) or month > date(today.year, today.month, 1):
        raise rules.FieldError(_("%(label)s %(month)s 不在 2000 年 1 月到本月之间。", label=label,
                                 month=month.strftime("%Y-%m")))
    return month


def _month_of(s: str) -> date | None:
    m = re.fullmatch(r"(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*月?|(\d{2}))", s)
    if m:
        month = int(m.group(2) or m.group(3))
        return date(int(m.group(1)), month, 1) if 1 <= month <= 12 else None
    day = rules._parse_date(s)
    return date(day.year, day.month, 1) if day else None


def parse_count(value, label: str, maximum: int) -> int:
    s = rules.as_text(value).replace(",", "").replace("，", "")
    if not s:
        raise rules.FieldError(_("请填写%(label)s。", label=label))
    try:
        n = int(s)
    except ValueError:
        raise rules.FieldError(_("%(label)s「%(value)s」不是整数。", label=label, value=s[:20])) from None
    if not 0 <= n <= maximum:
        raise rules.FieldError(_("%(label)s须在 0 到 %(max)s 之间。", label=label, max=maximum))
    return n


class Names:
    """Categories and branches by what a ledger calls them: code, name, or 大类/小类."""

    def __init__(self):
        self.categories: dict[str, int | None] = {}
        for c in db.session.execute(sa.select(Category)).scalars():
            names = [c.code.lower(), c.name, c.full_name.replace(" ", "")]
            if c.parent is not None:
                names.append(f"{c.parent.name}-{c.name}")
            for name in names:
                # A subcategory's name alone may repeat under two roots: then it is ambiguous.
                self.categories[name] = None if self.categories.get(name, c.id) != c.id else c.id
        self.branches: dict[str, int] = {}
        for unit_id, name, code in db.session.execute(
                sa.select(OrgUnit.id, OrgUnit.name, OrgUnit.code).where(OrgUnit.kind == UnitKind.BRANCH)):
            self.branches[name] = self.branches[code.lower()] = unit_id

    def category(self, value) -> int | None:
        s = "".join(rules.as_text(value).split())
        if not s:
            return None
        found = self.categories.get(s) or self.categories.get(s.lower())
        if found is None:
            raise rules.FieldError(_("找不到投诉类别「%(value)s」（填类别名称或编码，小类可写成“%(example)s”）。",
                                     value=s[:30], example="产品质量/异物"))
        return found

    def branch(self, value) -> int | None:
        s = rules.as_text(value)
        if not s:
            return None
        found = self.branches.get(s) or self.branches.get(s.lower())
        if found is None:
            raise rules.FieldError(_("找不到分公司「%(value)s」（填分公司名称或编码）。", value=s[:30]))
        return found


def check_file(path, columns, check, key=None) -> tuple[list[tuple[int, dict]], list[tuple[int, str]], int]:
    """(good rows, errors, data rows) of a stored upload: each non-blank row after the header
    checked by `check(raw) -> (values, messages)`; with `key(values, raw) -> (key, text)`, a
    row repeating an earlier row's key is an error of the later one. FileProblem for the
    file as a whole."""
    rows = importing.read_rows(path)
    try:
        _number, header = next(rows)
    except StopIteration:
        raise importing.FileProblem(_("文件是空的。")) from None
    positions = importing.map_columns(columns, header)
    good, errors, seen, count = [], [], {}, 0
    separator = "; " if get_locale().language == "en" else "；"  # as the catalog import
    for number, cells in rows:
        if not any(rules.as_text(c) for c in cells):
            continue
        count += 1
        if count > MAX_ROWS:
            raise importing.FileProblem(_("文件超过 %(n)s 行，请分成几个文件导入。", n=MAX_ROWS))
        raw = {name: cells[i] if i < len(cells) else None for name, i in positions.items()}
        values, messages = check(raw)
        if not messages and key is not None:
            k, text = key(values, raw)
            if k in seen:
                messages = [_("「%(key)s」与第 %(row)s 行重复。", key=text, row=seen[k])]
            else:
                seen[k] = number
        if messages:
            errors.append((number, separator.join(messages)))
        else:
            good.append((number, values))
    if count == 0:
        raise importing.FileProblem(_("文件只有表头，没有数据行。"))
    return good, errors, count


def _ledger_checker(source: LedgerSource, names: Names, cutover: date | None):
    month_label = _("月份") if source is LedgerSource.COUNTS else _("受理日期")
    cleaners = {"month": lambda v: parse_month(v, month_label), "category": names.category,
                "branch": names.branch}
    if source is LedgerSource.COUNTS:
        cleaners["count"] = lambda v: parse_count(v, _("投诉数量"), MAX_COUNT)

    def check(raw: dict) -> tuple[dict, list[str]]:
        values, errors = rules.clean(raw, cleaners)
        if "month" in values and cutover is not None and values["month"] >= cutover:
            errors["month"] = _("%(month)s 起的投诉已在本系统中（第一条投诉在 %(first)s），历史数据只能导入此前的月份。",
                                month=values["month"].strftime("%Y-%m"), first=cutover.strftime("%Y-%m"))
        return values, [errors[c.name] for c in COLUMNS[source] if c.name in errors]
    return check


def _key(values: dict, raw: dict) -> tuple[tuple, str]:
    """A counts row's month, category and branch, and how the row wrote them."""
    text = " ".join(t for t in (values["month"].strftime("%Y-%m"), rules.as_text(raw.get("category")),
                                rules.as_text(raw.get("branch"))) if t)
    return (values["month"], values["category"], values["branch"]), text


class ImportRefused(ValidationError):
    """Some rows are wrong: `errors` [(row number, reasons)], none of the file written."""

    def __init__(self, message: str, errors: list[tuple[int, str]], data_rows: int):
        super().__init__(message)
        self.errors, self.data_rows = errors, data_rows


def refuse(errors, data_rows: int):
    raise ImportRefused(_("共 %(total)s 行，其中 %(n)s 行有错误，没有导入任何行。请改正后重新上传整个文件。",
                          total=f"{data_rows:,}", n=f"{len(errors):,}"), errors[:importing.ERROR_LIMIT], data_rows)


def stored_upload(file):
    """The upload copied to the import folder (the catalog's size and type checks):
    (path, original name, SHA-256); the caller removes the file."""
    if not file or not getattr(file, "filename", None):
        raise ValidationError(_("请选择要导入的文件。"), {"file": _("请选择要导入的文件。")})
    name = clean_name(file.filename)
    if Path(name).suffix.lower() not in importing.EXTENSIONS:
        message = _("只能导入 CSV（.csv）或 Excel（.xlsx）文件；.xls 请先另存为 .xlsx。")
        raise ValidationError(message, {"file": message})
    stored, sha256 = importing._store(file, name)
    return importing.import_dir() / stored, name, sha256


def import_ledger(actor: User, source, file) -> LedgerImport:
    """Check every row of the uploaded ledger and, if none is wrong, write its monthly counts
    (replacing those of the same month, category and branch) with the import's record and
    audit event in one transaction. ImportRefused lists the wrong rows; nothing is written."""
    require_editor(actor)
    source = LedgerSource.get(source)
    if source is None:
        message = _("请选择文件的内容：月度汇总或逐条投诉。")
        raise ValidationError(message, {"source": message})
    path, name, sha256 = stored_upload(file)
    try:
        try:
            good, errors, data_rows = check_file(
                path, COLUMNS[source], _ledger_checker(source, Names(), first_case_month()),
                key=_key if source is LedgerSource.COUNTS else None)
        except importing.FileProblem as exc:
            raise ValidationError(exc.message, {"file": exc.message}) from None
    finally:
        path.unlink(missing_ok=True)
    if errors:
        refuse(errors, data_rows)
    counts: dict[tuple, int] = {}
    for _number, v in good:
        k = (v["month"], v["category"], v["branch"])
        counts[k] = counts.get(k, 0) + v.get("count", 1)
    record = LedgerImport(source=source, filename=name, sha256=sha256, data_rows=data_rows,
                          ledger_rows=len(counts), created_by_id=actor.id)
    try:
        db.session.add(record)
        db.session.flush()
        replaced = _replace(counts, source, record.id)
        audit.record("ledger_imported", actor=actor, object_type="ledger_import", object_id=record.id,
                     after={"source": source.value, "filename": name, "sha256": sha256, "rows": data_rows,
                            "months": len(counts), "replaced": replaced})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return record


def _replace(counts: dict[tuple, int], source: LedgerSource, import_id: int) -> int:
    """Write the counts, removing the rows they replace; returns how many were replaced.
    Two imports at once take turns (no unique key can hold rows without a category or
    branch); SQLite's single writer does so by itself."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LEDGER_LOCK})
    months = sorted({k[0] for k in counts})
    existing = db.session.execute(sa.select(LedgerMonth).where(LedgerMonth.month.in_(months))).scalars()
    replaced = 0
    for row in existing:
        if (row.month, row.category_id, row.branch_id) in counts:
            db.session.delete(row)
            replaced += 1
    db.session.flush()
    db.session.execute(sa.insert(LedgerMonth), [
        {"month": m, "category_id": c, "branch_id": b, "count": n, "source": source, "import_id": import_id}
        for (m, c, b), n in counts.items()])
    return replaced


def recent_imports(limit: int = 20) -> list[LedgerImport]:
    return list(db.session.execute(sa.select(LedgerImport).order_by(LedgerImport.id.desc()).limit(limit))
                .scalars())


def ledger_months() -> list[tuple[date, int]]:
    """[(month, complaints)] of everything imported, newest first, for the page."""
    return [(month, int(n)) for month, n in db.session.execute(
        sa.select(LedgerMonth.month, sa.func.sum(LedgerMonth.count))
        .group_by(LedgerMonth.month).order_by(LedgerMonth.month.desc()))]
