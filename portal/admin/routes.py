"""Admin pages for users and organisation units. Thin: portal.org.operations does the work."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.admin import NewUserForm, UnitForm, UserForm
from portal.admin import bp
from portal.auth.decorators import roles_required
from portal.errors import DomainError
from portal.extensions import db
from portal.htmx import page_or_partial, redirect_to
from portal.org import operations
from portal.org.enums import Role, UnitKind
from portal.org.models import OrgUnit, User, UserRole
from portal.org.tree import unit_tree

USER_LIMIT = 200  # an admin searches rather than pages through a company's staff


def admin_only(view):
    """Every page here: logged in, and a system administrator."""
    return login_required(roles_required(Role.ADMIN)(view))


def get_user(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


def get_unit(unit_id: int) -> OrgUnit:
    return db.session.get(OrgUnit, unit_id) or abort(404)


def _actor() -> User:
    return current_user._get_current_object()


def _failed(form, exc: DomainError) -> str:
    """Nothing of the change is kept; each message goes beside its field."""
    db.session.rollback()
    for name, message in exc.field_errors.items():
        if name in form:
            form[name].errors = list(form[name].errors) + [message]
    return exc.message


def _status() -> int:
    return 400 if request.method == "POST" else 200


def _render_form(template: str, form, message: str | None, status: int, **context):
    # On a phone the marked fields may be below the fold: say so at the top too.
    if status == 400 and not message:
        message = _("请修改标出的项目。")
    return render_template(template, form=form, message=message, **context), status


# ---------------------------------------------------------------- users

def _find_users(q: str, unit_id: int | None, role: Role | None) -> list[User]:
    stmt = sa.select(User).order_by(User.active.desc(), User.username).limit(USER_LIMIT + 1)
    # Service accounts (API tokens, the customer's page: portal/org/service.py) are not staff.
    stmt = stmt.where(User.username.notlike("svc:%"))
    if q:
        stmt = stmt.where(sa.or_(User.name.icontains(q, autoescape=True),
                                 User.username.icontains(q, autoescape=True)))
    if unit_id:
        stmt = stmt.where(User.unit_id.in_(unit_tree().subtree(unit_id)))
    if role:
        stmt = stmt.where(User.id.in_(sa.select(UserRole.user_id).where(UserRole.role == role)))
    return db.session.execute(stmt).unique().scalars().all()


@bp.route("/users")
@admin_only
def users():
    """One URL for the page and for the live search's rows (htmx asks for the rows alone)."""
    unit_id = request.args.get("unit", type=int)
    f = {"q": request.args.get("q", "").strip(), "unit": unit_id, "role": Role.get(request.args.get("role"))}
    rows = _find_users(f["q"], unit_id, f["role"])
    return page_or_partial("admin/users.html", "admin/_user_rows.html",
                           users=rows[:USER_LIMIT], more=len(rows) > USER_LIMIT, f=f,
                           units=unit_tree().ordered(active_only=False), roles=list(Role))


def _user_units(user: User | None):
    # A user may stay in a unit deactivated since; offer it, but no other inactive one.
    keep = user.unit_id if user else None
    return [(u, d) for u, d in unit_tree().ordered(active_only=False) if u.active or u.id == keep]


def _render_user_form(form, user: User | None, message: str | None = None, status: int = 200):
    return _render_form("admin/user_form.html", form, message, status, user=user)


@bp.route("/users/new", methods=["GET", "POST"])
@admin_only
def user_new():
    form = NewUserForm(units=_user_units(None))
    message = None
    if form.validate_on_submit():
        try:
            user = operations.create_user(_actor(), form.user_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已创建用户 %(name)s（%(username)s）。", name=user.name, username=user.username), "success")
            return redirect_to(url_for("admin.users", q=user.username))
    return _render_user_form(form, None, message, _status())


def _user_form_data(user: User) -> dict:
    return {"name": user.name, "unit_id": str(user.unit_id), "roles": [r.value for r in user.roles],
            "title": user.title, "phone": user.phone, "email": user.email}


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_only
def user_edit(user_id: int):
    user = get_user(user_id)
    form = UserForm(data=_user_form_data(user), units=_user_units(user))
    message = None
    if form.validate_on_submit():
        try:
            operations.update_user(_actor(), user, form.user_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已保存用户 %(name)s。", name=user.name), "success")
            return redirect_to(url_for("admin.users", q=user.username))
    return _render_user_form(form, user, message, _status())


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@admin_only
def user_toggle(user_id: int):
    """`active=1` reactivates, anything else deactivates: a repeated click does no harm."""
    user = get_user(user_id)
    activate = request.form.get("active") == "1"
    try:
        (operations.reactivate_user if activate else operations.deactivate_user)(_actor(), user)
    except DomainError as exc:
        form = UserForm(formdata=None, data=_user_form_data(user), units=_user_units(user))
        return _render_user_form(form, user, _failed(form, exc), 400)
    flash(_("已启用用户 %(name)s。", name=user.name) if activate
          else _("已停用用户 %(name)s。", name=user.name), "success")
    return redirect_to(url_for("admin.user_edit", user_id=user.id))


# ---------------------------------------------------------------- units

@bp.route("/units")
@admin_only
def units():
    counts = dict(db.session.execute(
        sa.select(User.unit_id, sa.func.count()).where(User.active).group_by(User.unit_id)).all())
    return render_template("admin/units.html", rows=unit_tree().ordered(active_only=False),
                           counts=counts)


def _parents(unit: OrgUnit | None):
    """Where a unit may go: active units outside its own subtree (its current parent stays)."""
    tree = unit_tree()
    own = tree.subtree(unit.id) if unit else set()
    keep = unit.parent_id if unit else None
    return [(u, d) for u, d in tree.ordered(active_only=False)
            if u.id not in own and (u.active or u.id == keep)]


def _render_unit_form(form, unit: OrgUnit | None, message: str | None = None, status: int = 200):
    return _render_form("admin/unit_form.html", form, message, status, unit=unit)


@bp.route("/units/new", methods=["GET", "POST"])
@admin_only
def unit_new():
    # Most new units are branches or departments under an existing unit.
    form = UnitForm(parents=_parents(None), data={"kind": UnitKind.BRANCH.value,
                                                  "parent_id": request.args.get("parent", "")})
    message = None
    if form.validate_on_submit():
        try:
            unit = operations.create_unit(_actor(), form.unit_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已创建机构 %(name)s。", name=unit.name), "success")
            return redirect_to(url_for("admin.units"))
    return _render_unit_form(form, None, message, _status())


def _unit_form_data(unit: OrgUnit) -> dict:
    return {"name": unit.name, "code": unit.code, "kind": unit.kind.value,
            "parent_id": str(unit.parent_id or "")}


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@admin_only
def unit_edit(unit_id: int):
    unit = get_unit(unit_id)
    form = UnitForm(data=_unit_form_data(unit), parents=_parents(unit))
    message = None
    if form.validate_on_submit():
        try:
            operations.update_unit(_actor(), unit, form.unit_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已保存机构 %(name)s。", name=unit.name), "success")
            return redirect_to(url_for("admin.units"))
    return _render_unit_form(form, unit, message, _status())


@bp.route("/units/<int:unit_id>/active", methods=["POST"])
@admin_only
def unit_toggle(unit_id: int):
    unit = get_unit(unit_id)
    activate = request.form.get("active") == "1"
    try:
        (operations.reactivate_unit if activate else operations.deactivate_unit)(_actor(), unit)
    except DomainError as exc:
        form = UnitForm(formdata=None, data=_unit_form_data(unit), parents=_parents(unit))
        return _render_unit_form(form, unit, _failed(form, exc), 400)
    flash(_("已启用机构 %(name)s。", name=unit.name) if activate
          else _("已停用机构 %(name)s。", name=unit.name), "success")
    return redirect_to(url_for("admin.units"))
