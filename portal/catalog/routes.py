"""Pages of the product and batch register. Thin: portal.catalog.operations and
portal.catalog.importing do the work.

Who: a system administrator keeps the register (adds, edits, deactivates, imports); quality
staff may read the lists, since they trace batches, but change nothing.
"""
from __future__ import annotations

import csv
import io

from flask import Response, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.catalog import BatchForm, ImportForm, ProductForm
from portal.admin.routes import _failed, _render_form, _status, admin_only
from portal.auth.decorators import roles_required
from portal.batches.models import Batch, Product
from portal.catalog import bp, importing, operations, queries
from portal.catalog.models import ImportJob, ImportKind
from portal.errors import Conflict, DomainError
from portal.extensions import db
from portal.htmx import is_htmx, page_or_partial, redirect_to
from portal.org.enums import Role

HTMX_STOP_POLLING = 286


def register_reader(view):
    """The lists: an administrator, or quality staff (read only)."""
    return login_required(roles_required(Role.ADMIN, Role.QUALITY)(view))


def _actor():
    return current_user._get_current_object()


def _get(model, record_id: int):
    return db.session.get(model, record_id) or abort(404)


def _conflict_or_failed(form, exc: DomainError) -> tuple[str, int]:
    """The message and status: a conflict (409) keeps what was typed and says to reload;
    other errors (400) go beside their fields too."""
    if isinstance(exc, Conflict):
        db.session.rollback()
        return exc.message, 409
    return _failed(form, exc), 400


# ---------------------------------------------------------------- products

@bp.route("/products")
@register_reader
def products():
    f = queries.RegisterFilters.from_args(request.args)
    rows, has_next = queries.find_products(f)
    return page_or_partial("catalog/products.html", "catalog/_product_rows.html",
                           products=rows, has_next=has_next, f=f)


def _product_form_data(p: Product) -> dict:
    return {"code": p.code, "name": p.name, "spec": p.spec or "", "version": str(p.version),
            "unit_price": "" if p.unit_price is None else str(p.unit_price)}


def _render_product(form, product, message=None, status=200):
    return _render_form("catalog/product_form.html", form, message, status, product=product)


@bp.route("/products/new", methods=["GET", "POST"])
@admin_only
def product_new():
    form = ProductForm()
    message = None
    if form.validate_on_submit():
        try:
            product = operations.create_product(_actor(), form.product_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已新增产品 %(code)s %(name)s。", code=product.code, name=product.name), "success")
            return redirect_to(url_for("catalog.products", q=product.code))
    return _render_product(form, None, message, _status())


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@admin_only
def product_edit(product_id: int):
    product = _get(Product, product_id)
    form = ProductForm(data=_product_form_data(product))
    message, status = None, _status()
    if form.validate_on_submit():
        try:
            operations.update_product(_actor(), product, form.product_data(), form.version.data)
        except DomainError as exc:
            message, status = _conflict_or_failed(form, exc)
        else:
            flash(_("已保存产品 %(code)s。", code=product.code), "success")
            return redirect_to(url_for("catalog.products", q=product.code))
    return _render_product(form, product, message, status)


@bp.route("/products/<int:product_id>/active", methods=["POST"])
@admin_only
def product_toggle(product_id: int):
    product = _get(Product, product_id)
    activate = request.form.get("active") == "1"
    try:
        operations.set_product_active(_actor(), product, activate, request.form.get("version"))
    except DomainError as exc:
        form = ProductForm(formdata=None, data=_product_form_data(product))
        return _render_product(form, product, *_conflict_or_failed(form, exc))
    flash(_("已启用产品 %(code)s。", code=product.code) if activate
          else _("已停用产品 %(code)s。", code=product.code), "success")
    return redirect_to(url_for("catalog.product_edit", product_id=product.id))


# ---------------------------------------------------------------- batches

@bp.route("/batches")
@register_reader
def batches():
    f = queries.RegisterFilters.from_args(request.args)
    rows, has_next = queries.find_batches(f)
    return page_or_partial("catalog/batches.html", "catalog/_batch_rows.html",
                           batches=rows, has_next=has_next, f=f, products=queries.all_products())


def _batch_form(batch: Batch | None, **kwargs) -> BatchForm:
    return BatchForm(products=operations.batch_products(batch.product_id if batch else None),
                     units=operations.production_units(batch.production_unit_id if batch else None),
                     **kwargs)


def _batch_form_data(b: Batch) -> dict:
    return {"batch_no": b.batch_no, "product_id": str(b.product_id),
            "production_date": b.production_date.isoformat(),
            "production_unit_id": str(b.production_unit_id or ""), "line": b.line or "",
            "shift": b.shift or "", "quantity": "" if b.quantity is None else str(b.quantity),
            "shipped_regions": "\n".join(b.shipped_regions or []), "version": str(b.version)}


def _render_batch(form, batch, message=None, status=200):
    return _render_form("catalog/batch_form.html", form, message, status, batch=batch)


@bp.route("/batches/new", methods=["GET", "POST"])
@admin_only
def batch_new():
    form = _batch_form(None)
    message = None
    if form.validate_on_submit():
        try:
            batch = operations.create_batch(_actor(), form.batch_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已新增批号 %(batch_no)s。", batch_no=batch.batch_no), "success")
            return redirect_to(url_for("catalog.batches", q=batch.batch_no))
    return _render_batch(form, None, message, _status())


@bp.route("/batches/<int:batch_id>", methods=["GET", "POST"])
@admin_only
def batch_edit(batch_id: int):
    batch = _get(Batch, batch_id)
    form = _batch_form(batch, data=_batch_form_data(batch))
    message, status = None, _status()
    if form.validate_on_submit():
        try:
            operations.update_batch(_actor(), batch, form.batch_data(), form.version.data)
        except DomainError as exc:
            message, status = _conflict_or_failed(form, exc)
        else:
            flash(_("已保存批号 %(batch_no)s。", batch_no=batch.batch_no), "success")
            return redirect_to(url_for("catalog.batches", q=batch.batch_no))
    return _render_batch(form, batch, message, status)


@bp.route("/batches/<int:batch_id>/active", methods=["POST"])
@admin_only
def batch_toggle(batch_id: int):
    batch = _get(Batch, batch_id)
    activate = request.form.get("active") == "1"
    try:
        operations.set_batch_active(_actor(), batch, activate, request.form.get("version"))
    except DomainError as exc:
        form = _batch_form(batch, formdata=None, data=_batch_form_data(batch))
        return _render_batch(form, batch, *_conflict_or_failed(form, exc))
    flash(_("已启用批号 %(batch_no)s。", batch_no=batch.batch_no) if activate
          else _("已停用批号 %(batch_no)s。", batch_no=batch.batch_no), "success")
    return redirect_to(url_for("catalog.batch_edit", batch_id=batch.id))


# ---------------------------------------------------------------- import

@bp.route("/import", methods=["GET", "POST"])
@admin_only
def import_new():
    form = ImportForm()
    message = None
    if form.validate_on_submit():
        try:
            job = importing.start_import(_actor(), form.kind.data, request.files.get(form.file.name))
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            return redirect_to(url_for("catalog.import_job", job_id=job.id))
    return _render_form("catalog/import.html", form, message, _status(), jobs=queries.recent_imports(),
                        kinds=list(ImportKind))


@bp.route("/import/<int:job_id>")
@admin_only
def import_job(job_id: int):
    """The job's page; polled by its progress block, which stops polling once it is done."""
    job = _get(ImportJob, job_id)
    stopped = importing.interrupted(job)
    body, status = page_or_partial("catalog/import_job.html", "catalog/_import_progress.html", job=job,
                                   interrupted=stopped)
    if is_htmx() and (job.status.finished or stopped):
        status = HTMX_STOP_POLLING
    return body, status


@bp.route("/import/<int:job_id>/restart", methods=["POST"])
@admin_only
def import_restart(job_id: int):
    job = _get(ImportJob, job_id)
    try:
        importing.restart_import(_actor(), job)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect_to(url_for("catalog.import_job", job_id=job.id))


@bp.route("/import/template-<kind>.csv")
@admin_only
def import_template(kind: str):
    """The header row to fill in, as UTF-8 with a BOM so Excel opens the Chinese right."""
    kind = ImportKind.get(kind) or abort(404)
    out = io.StringIO()
    csv.writer(out).writerow(importing.template_header(kind))
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=template-{kind.value}.csv"})
