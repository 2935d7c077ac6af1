"""Admin pages for the cause tree (原因分类) and the compensation rules (补偿规则).
Thin: portal.cases.reference does the work."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _

from forms.reference import CategoryForm, NewCategoryForm, RuleForm
from portal.admin import bp
from portal.admin.routes import _actor, _failed, _render_form, _status, admin_only
from portal.cases import reference
from portal.cases.enums import Klass
from portal.cases.models import Case, Category, CompensationRule
from portal.errors import Conflict, DomainError
from portal.extensions import db
from portal.htmx import redirect_to


def get_category(category_id: int) -> Category:
    return db.session.get(Category, category_id) or abort(404)


def get_rule(rule_id: int) -> CompensationRule:
    return db.session.get(CompensationRule, rule_id) or abort(404)


def _tree() -> list[tuple[Category, int]]:
    """Every category, each top-level cause followed by its kinds, in their sort order."""
    cats = db.session.execute(sa.select(Category).order_by(Category.sort, Category.id)).scalars().all()
    out = []
    for root in (c for c in cats if c.parent_id is None):
        out.append((root, 0))
        out.extend((c, 1) for c in cats if c.parent_id == root.id)
    return out


# ---------------------------------------------------------------- categories

@bp.route("/categories")
@admin_only
def categories():
    counts = dict(db.session.execute(
        sa.select(Case.category_id, sa.func.count()).group_by(Case.category_id)).all())
    return render_template("admin/categories.html", rows=_tree(), counts=counts)


def _parents(c: Category | None) -> list[Category]:
    """Top-level causes other than the category itself (its current parent stays offered)."""
    keep = c.parent_id if c else None
    return [p for p, depth in _tree() if depth == 0 and (c is None or p.id != c.id)
            and (p.active or p.id == keep)]


def _render_category_form(form, c: Category | None, message=None, status=200):
    use = reference.category_in_use(c) if c else None
    return _render_form("admin/category_form.html", form, message, status, category=c, use=use)


@bp.route("/categories/new", methods=["GET", "POST"])
@admin_only
def category_new():
    form = NewCategoryForm(parents=_parents(None), data={"parent_id": request.args.get("parent", ""), "sort": "0"})
    message = None
    if form.validate_on_submit():
        try:
            c = reference.create_category(_actor(), form.category_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已添加原因分类 %(name)s。", name=c.full_name), "success")
            return redirect_to(url_for("admin.categories"))
    return _render_category_form(form, None, message, _status())


def _category_form_data(c: Category) -> dict:
    return {"name": c.name, "parent_id": str(c.parent_id or ""), "sort": str(c.sort),
            "seen": reference.snapshot(c)}


def _category_refused(c: Category, exc: DomainError):
    """Nothing of the change kept: the category as it is now, with the reason at the top."""
    db.session.rollback()
    form = CategoryForm(formdata=None, data=_category_form_data(c), parents=_parents(c))
    return _render_category_form(form, c, _failed(form, exc), exc.status)


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@admin_only
def category_edit(category_id: int):
    c = get_category(category_id)
    form = CategoryForm(data=_category_form_data(c), parents=_parents(c))
    message = None
    if form.validate_on_submit():
        try:
            reference.update_category(_actor(), c, form.category_data(), seen=form.seen.data)
        except Conflict as exc:
            # Another admin saved first: show the category as it is now, to check and redo.
            return _category_refused(c, exc)
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已保存原因分类 %(name)s。", name=c.full_name), "success")
            return redirect_to(url_for("admin.categories"))
    return _render_category_form(form, c, message, _status())


@bp.route("/categories/<int:category_id>/active", methods=["POST"])
@admin_only
def category_toggle(category_id: int):
    """`active=1` reactivates, anything else deactivates: a repeated click does no harm."""
    c = get_category(category_id)
    activate = request.form.get("active") == "1"
    try:
        reference.set_category_active(_actor(), c, activate)
    except DomainError as exc:
        return _category_refused(c, exc)
    flash(_("已启用原因分类 %(name)s。", name=c.full_name) if activate
          else _("已停用原因分类 %(name)s。", name=c.full_name), "success")
    return redirect_to(url_for("admin.category_edit", category_id=c.id))


@bp.route("/categories/<int:category_id>/delete", methods=["POST"])
@admin_only
def category_delete(category_id: int):
    c = get_category(category_id)
    name = c.full_name
    try:
        reference.delete_category(_actor(), c)
    except DomainError as exc:
        return _category_refused(c, exc)
    flash(_("已删除原因分类 %(name)s。", name=name), "success")
    return redirect_to(url_for("admin.categories"))


# ---------------------------------------------------------------- compensation rules

@bp.route("/rules")
@admin_only
def rules():
    """By class in the order of §6, each class's default rule (any cause) first."""
    order = {k: i for i, k in enumerate(Klass)}
    rows = db.session.execute(sa.select(CompensationRule)).scalars().all()
    rows.sort(key=lambda r: (order[r.klass], r.category_id is not None,
                             r.category.full_name if r.category else ""))
    return render_template("admin/rules.html", rows=rows, amount=_amount)


def _rule_categories(r: CompensationRule | None) -> list[Category]:
    keep = r.category_id if r else None
    return [c for c, _depth in _tree() if c.active or c.id == keep]


def _render_rule_form(form, r: CompensationRule | None, message=None, status=200):
    return _render_form("admin/rule_form.html", form, message, status, rule=r)


def _amount(value) -> str:
    return "" if value is None else f"{value.normalize():f}"


def _rule_form_data(r: CompensationRule) -> dict:
    return {"klass": r.klass.value, "category_id": str(r.category_id or ""),
            "max_multiple": _amount(r.max_multiple), "max_cash": _amount(r.max_cash),
            "always_needs_approval": bool(r.always_needs_approval), "approver": r.approver.value,
            "note": r.note or "", "seen": reference.snapshot(r)}


def _rule_refused(r: CompensationRule, exc: DomainError):
    """Nothing of the change kept: the rule as it is now, with the reason at the top."""
    db.session.rollback()
    form = RuleForm(formdata=None, data=_rule_form_data(r), categories=_rule_categories(r))
    return _render_rule_form(form, r, _failed(form, exc), exc.status)


@bp.route("/rules/new", methods=["GET", "POST"])
@admin_only
def rule_new():
    form = RuleForm(categories=_rule_categories(None),
                    data={"klass": request.args.get("klass", ""), "approver": "department"})
    message = None
    if form.validate_on_submit():
        try:
            reference.create_rule(_actor(), form.rule_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已添加补偿规则。"), "success")
            return redirect_to(url_for("admin.rules"))
    return _render_rule_form(form, None, message, _status())


@bp.route("/rules/<int:rule_id>", methods=["GET", "POST"])
@admin_only
def rule_edit(rule_id: int):
    r = get_rule(rule_id)
    form = RuleForm(data=_rule_form_data(r), categories=_rule_categories(r))
    message = None
    if form.validate_on_submit():
        try:
            reference.update_rule(_actor(), r, form.rule_data(), seen=form.seen.data)
        except Conflict as exc:
            return _rule_refused(r, exc)  # as for a category
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已保存补偿规则。"), "success")
            return redirect_to(url_for("admin.rules"))
    return _render_rule_form(form, r, message, _status())


@bp.route("/rules/<int:rule_id>/delete", methods=["POST"])
@admin_only
def rule_delete(rule_id: int):
    r = get_rule(rule_id)
    try:
        reference.delete_rule(_actor(), r, seen=request.form.get("seen"))
    except DomainError as exc:  # a conflict: the rule changed since the page was drawn
        return _rule_refused(r, exc)
    flash(_("已删除补偿规则。"), "success")
    return redirect_to(url_for("admin.rules"))
