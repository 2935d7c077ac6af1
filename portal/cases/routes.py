"""Case pages: list, intake, detail, step panels, files. Thin: operations do the work."""
from __future__ import annotations

from flask import abort, current_app, flash, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
import sqlalchemy as sa
from sqlalchemy.orm import defaultload, joinedload

from forms.cases import IntakeForm
from portal.auth.decorators import roles_required
from portal.batches.models import Batch
from portal.cases import access, bp, evidence, operations, panels
from portal.cases.enums import Channel
from portal.cases.models import Attachment, Case
from portal.cases.queries import SORT_LABELS, CaseFilters, branch_choices_for, list_cases
from portal.clock import local, utcnow
from portal.errors import AlreadySubmitted, DomainError
from portal.extensions import db
from portal.htmx import is_htmx, page_or_partial, redirect_to
from portal.org.enums import Role, UnitKind
from portal.org.models import User
from portal.org.tree import unit_tree
from portal.submit import run_form


def _case_query(*columns):
    # The registering user comes with the case (a join); their roles only if something asks.
    return sa.select(Case, *columns).where(Case.number == sa.bindparam("number")).options(
        defaultload(Case.registered_by).lazyload(User.role_rows))


# Built once (every case page and step asks): the number is a parameter.
_CASE = _case_query()
# The case for its page, in one query: which of the page's collections it has rows in, its
# customer link's token, and its batch from the register with the batch's product and
# production department (cases store the batch number normalised: forms.cases).
_CASE_PAGE = (_case_query(Batch, *panels.HAS_WITH_CASE)
              .outerjoin(Batch, Batch.batch_no == Case.batch_no).options(joinedload(Batch.production_unit)))


def _visible_or_404(case: Case | None) -> Case:
    if case is None or not access.can_view(case, current_user):
        abort(404)  # no hint the case exists
    return case


def get_case(number: str) -> Case:
    """The case by number if the current user may see it; 404 otherwise."""
    return _visible_or_404(db.session.execute(_CASE, {"number": number}).unique().scalar_one_or_none())


def get_case_page(number: str) -> tuple[Case, panels.CaseHas]:
    """The case for its page with what the page would otherwise look up one by one (_CASE_PAGE)."""
    row = db.session.execute(_CASE_PAGE, {"number": number}).unique().first()
    case = _visible_or_404(row[0] if row else None)
    return case, panels.case_has(case, row[2:], batch=row[1])


@bp.route("/")
@login_required
def index():
    f = CaseFilters.from_args(request.args)
    rows, has_next = list_cases(current_user, f, current_app.config["PAGE_SIZE"])
    # The filter form's choices are only drawn on the full page.
    choices = {} if is_htmx() else dict(panels.list_choices())
    if choices:
        choices["branch_choices"] = branch_choices_for(current_user, choices["branch_choices"])
    return page_or_partial("cases/list.html", "cases/_results.html", rows=rows, has_next=has_next,
                           f=f, sort_labels=SORT_LABELS, **choices)


def _branches():
    return [u for u, _ in unit_tree().ordered(kind=UnitKind.BRANCH)]


@bp.route("/new", methods=["GET", "POST"])
@login_required
@roles_required(Role.REP, Role.DESK)
def new():
    desk = current_user.has_role(Role.DESK)
    form = IntakeForm(desk=desk, branches=_branches())
    staged, upload_error, submitted = [], None, None
    if request.method == "POST":
        form_ok = form.validate()
        staged, upload_error = evidence.collect(request.files.getlist("photos"),
                                                request.form.getlist("upload_token"), current_user.id)
        if form_ok and not upload_error:
            try:
                case = operations.register_case(
                    current_user, form.data_for_case(), staged,
                    channel=Channel.get(form.channel.data) if desk else None,
                    branch_id=int(form.branch_id.data) if desk and (form.branch_id.data or "").isdigit() else None,
                    received_at=form.received_at_utc() if desk else None,
                    intake_key=form.submitted_key())
            except AlreadySubmitted as exc:
                # Back, then submit again: say where the case is, and drop the files it took.
                db.session.rollback()
                staged, submitted = [], _visible_case(exc.case_number)
                upload_error = None if submitted else exc.message
            except DomainError as exc:
                db.session.rollback()
                for name, msg in exc.field_errors.items():
                    if name in form:
                        form[name].errors = list(form[name].errors) + [msg]
                upload_error = upload_error if exc.field_errors else exc.message
            else:
                flash(_("投诉已登记，编号 %(number)s。", number=case.number), "success")
                return redirect_to(url_for("cases.detail", number=case.number))
    tokens = [(f, evidence.sign_token(f, current_user.id)) for f in staged]
    status = (409 if submitted is not None else 400) if request.method == "POST" else 200
    return page_or_partial("cases/new.html", "cases/_intake_form.html", status=status, form=form,
                           staged=tokens, upload_error=upload_error, desk=desk, submitted=submitted,
                           now_local=local(utcnow()))


def _visible_case(number: str) -> Case | None:
    case = db.session.execute(sa.select(Case).where(Case.number == number)).unique().scalar_one_or_none()
    return case if case is not None and access.can_view(case, current_user) else None


@bp.route("/upload-preview/<token>")
@login_required
def staged_thumb(token: str):
    """Thumbnail of a file staged in a form that has not been submitted yet (uploader only)."""
    f = evidence.read_token(token, current_user.id)
    if f is None or not f.content_type.startswith("image/"):
        abort(404)
    evidence.ensure_renditions(f.token, f.stored_name)
    return send_file(evidence.thumb_path(f.token), mimetype="image/jpeg")


@bp.route("/<number>")
@login_required
def detail(number: str):
    case, has = get_case_page(number)
    return render_template("cases/detail.html", **panels.detail_context(case, has=has))


@bp.route("/<number>/main")
@login_required
def main(number: str):
    """The case body alone (refreshed by htmx after a step)."""
    case, has = get_case_page(number)
    return render_template("cases/_main.html", **panels.detail_context(case, has=has))


@bp.route("/<number>/act/<action>", methods=["POST"])
@login_required
def act(number: str, action: str):
    """Every workflow step posts here; the step's form and operation come from `panels`."""
    if action not in operations.TRANSITIONS:
        abort(404)
    case = get_case(number)
    step = panels.STEP_FORMS[action]
    form = step.form_class(prefix=panels.PANEL_OF.get(action, action))
    panels.prepare_form(action, form, case)
    message, status, conflict = run_form(
        form, lambda: step.run(case, current_user._get_current_object(), form))
    if conflict:
        # Show the case as it is now, with the reason at the top.
        case = db.session.get(Case, case.id, populate_existing=True)
        form = None
    elif status == 200:
        flash(_("已%(action)s。", action=_(operations.TRANSITIONS[action].label)), "success")
        if not access.can_view(case, current_user):
            # A handler who sent the case on to another department no longer sees it.
            return redirect_to(url_for("work.index"))
        if not is_htmx():
            return redirect_to(url_for("cases.detail", number=case.number))
        db.session.expire_all()
        case = get_case(number)
        resp = current_app.make_response(
            render_template("cases/_main.html", **panels.detail_context(case)))
        resp.headers["HX-Trigger"] = "work-changed"
        return resp
    if status == 403:
        abort(403, description=message)
    ctx = panels.detail_context(case, failed_action=action if form is not None else None,
                                failed_form=form, message=message)
    template = "cases/_main.html" if is_htmx() else "cases/detail.html"
    return render_template(template, **ctx), status


@bp.route("/<number>/hurry", methods=["POST"])
@login_required
@roles_required(Role.DESK, Role.LEADER)
def hurry(number: str):
    """催办 (H4: portal/cases/hurry.py): tell whoever holds the step; the case body comes back."""
    from forms.hurry import HurryForm
    from portal.cases.hurry import hurry_case
    case = get_case(number)
    form = HurryForm(prefix="hurry")
    if not form.validate():
        message, status = (form.first_error() or _("请检查填写内容。")), 400
    else:
        try:
            told = hurry_case(case, current_user._get_current_object(), step=form.step.data,
                              note=form.note.data)
        except DomainError as exc:
            db.session.rollback()
            message, status = exc.message, exc.status
        else:
            flash(_("已催办：%(names)s。", names=_("、").join(u.name for u in told)), "success")
            if not is_htmx():
                return redirect_to(url_for("cases.detail", number=case.number))
            db.session.expire_all()
            return render_template("cases/_main.html", **panels.detail_context(get_case(number)))
    if status == 403:
        abort(403, description=message)
    db.session.expire_all()
    case = get_case(number)
    template = "cases/_main.html" if is_htmx() else "cases/detail.html"
    return render_template(template, **panels.detail_context(case, message=message)), status


@bp.route("/<number>/escalate", methods=["POST"])
@login_required
@roles_required(Role.DESK, Role.LEADER)
def escalate(number: str):
    """手动升级 (H5: portal/escalation/manual.py): one level up the ladder, with the reason."""
    from portal.escalation.manual import escalate_by_hand
    case = get_case(number)
    try:
        done = escalate_by_hand(case, current_user._get_current_object(), reason=request.form.get("reason"))
    except DomainError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403, description=exc.message)
        db.session.expire_all()
        template = "cases/_main.html" if is_htmx() else "cases/detail.html"
        return render_template(template, **panels.detail_context(get_case(number), message=exc.message)), exc.status
    flash(_("已升级至第 %(level)s 级。", level=done.level), "success")
    if not is_htmx():
        return redirect_to(url_for("cases.detail", number=case.number))
    db.session.expire_all()
    return render_template("cases/_main.html", **panels.detail_context(get_case(number)))


@bp.route("/<number>/files/<int:attachment_id>/<variant>")
@login_required
def file(number: str, attachment_id: int, variant: str):
    case = get_case(number)
    att = db.session.get(Attachment, attachment_id)
    if att is None or att.case_id != case.id or variant not in ("original", "preview", "thumb"):
        abort(404)
    if variant == "original":
        return send_file(evidence.original_path(att.stored_name), mimetype=att.content_type,
                         download_name=att.original_name, as_attachment=not att.is_photo,
                         conditional=True)
    if not att.is_photo:
        abort(404)
    evidence.ensure_renditions(att.token, att.stored_name)  # normally the worker has made them
    path = evidence.preview_path(att.token) if variant == "preview" else evidence.thumb_path(att.token)
    return send_file(path, mimetype="image/jpeg", conditional=True)


@bp.route("/<number>/signoff.pdf")
@login_required
def signoff_pdf(number: str):
    case = get_case(number)
    from portal.cases.documents import signoff_pdf_path
    # Personal data on paper follows the reader's rights exactly as on the page.
    path = signoff_pdf_path(case, full_phone=access.sees_full_phone(case, current_user))
    if path is None:
        abort(404)
    return send_file(path, mimetype="application/pdf", download_name=_("%(number)s-签字单.pdf", number=case.number),
                     conditional=True)


@bp.route("/<number>/dispatch-people")
@login_required
@roles_required(Role.DESK, Role.HANDLER, Role.LEADER)
def dispatch_people(number: str):
    """The handler picker for the department chosen in the dispatch (or re-dispatch) panel."""
    case = get_case(number)
    action = "redispatch" if request.args.get("panel") == "redispatch" else "dispatch"
    form = panels.STEP_FORMS[action].form_class(prefix=action, formdata=request.args)
    panels.prepare_form(action, form, case)
    return render_template("cases/panels/_dispatch_people.html", form=form)
