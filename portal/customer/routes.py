"""The customer's progress page (/p/<token>, no login) and the staff's side of it (the card on
the case page, the printable receipt, a new link). Thin: operations do the work."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.customer import AppealForm, RatingForm, SupplyForm
from portal.cases import evidence
from portal.cases.routes import get_case
from portal.customer import bp, links, operations, present, throttle
from portal.customer.models import CustomerAppeal, CustomerRating
from portal.customer.qr import qr_svg
from portal.errors import DomainError
from portal.extensions import db
from portal.org.enums import Role
from portal.signing.audit import client_ip
from portal.submit import run_form

import sqlalchemy as sa

PUBLIC = {"customer.page", "customer.supply", "customer.rate", "customer.appeal"}


@bp.after_request
def _private(resp):
    """A customer's link is a key: not indexed, not passed on as a referrer, not cached."""
    if request.endpoint in PUBLIC:
        resp.headers["X-Robots-Tag"] = "noindex, nofollow"
        resp.headers["Referrer-Policy"] = "no-referrer"
        lang = request.args.get("lang")
        if lang in ("zh_CN", "en"):
            resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    return resp


def _gone(status: int = 404):
    """Wrong, revoked or expired alike: the same polite page, saying nothing of the case."""
    return render_template("customer/gone.html", throttled=status == 429), status


def _link_or_none(token: str):
    ip = client_ip()
    if throttle.blocked(ip):
        return None, _gone(429)
    link = links.find(token)
    if link is None:
        throttle.missed(ip)
        return None, _gone(404)
    return link, None


def _forms(view, **given):
    forms = {"supply": SupplyForm(prefix="supply"), "rating": RatingForm(prefix="rating"),
             "appeal": AppealForm(prefix="appeal")}
    forms.update(given)
    for form in forms.values():
        form.version.data = view.version
    return forms


def _render(link, status: int = 200, message: str | None = None, staged=(), open_form=None,
            upload_error=None, **given):
    db.session.expire_all()
    view = present.view(link.case, link)
    tokens = [(f, evidence.sign_token(f, operations.customer_user().id)) for f in staged]
    return render_template("customer/page.html", view=view, token=link.token, message=message,
                           forms=_forms(view, **given), staged=tokens, open_form=open_form,
                           upload_error=upload_error, message_kind="warning" if status == 409 else "error",
                           hotline=current_app.config["CUSTOMER_HOTLINE"]), status


@bp.route("/p/<token>")
def page(token: str):
    link, refused = _link_or_none(token)
    if refused:
        return refused
    return _render(link)


def _post(token: str, name: str, form, run, done: str):
    link, refused = _link_or_none(token)
    if refused:
        return refused
    message, status, conflict = run_form(form, lambda: run(link))
    if status == 200:
        flash(done, "success")
        return redirect(url_for("customer.page", token=link.token))
    if conflict:
        return _render(link, status, message)
    return _render(link, status, message, open_form=name, **{name: form})


@bp.route("/p/<token>/info", methods=["POST"])
def supply(token: str):
    link, refused = _link_or_none(token)
    if refused:
        return refused
    customer = operations.customer_user()
    db.session.commit()  # the customer's service account, made the first time, signs the uploads
    case, form = link.case, SupplyForm(prefix="supply")
    # Photos are checked as any evidence; the good ones are kept through a refused form.
    files, upload_error = evidence.collect(
        request.files.getlist("supply-photos"), request.form.getlist("upload_token"), customer.id,
        existing_bytes=sum(a.size for a in case.attachments), existing_count=len(case.attachments))
    if upload_error:
        form.validate()
        return _render(link, 400, upload_error, staged=files, upload_error=upload_error,
                       open_form="supply", supply=form)
    message, status, conflict = run_form(
        form, lambda: operations.supply_info(link, form.version.data, reply=form.reply.data, files=files))
    if status == 200:
        flash(_("已收到您补充的信息，我们会尽快核实。"), "success")
        return redirect(url_for("customer.page", token=link.token))
    if conflict:
        return _render(link, status, message)
    return _render(link, status, message, staged=files, open_form="supply", supply=form)


@bp.route("/p/<token>/rate", methods=["POST"])
def rate(token: str):
    form = RatingForm(prefix="rating")
    return _post(token, "rating", form,
                 lambda link: operations.rate_result(link, form.version.data, scores=form.scores(),
                                                     comment=form.comment.data),
                 _("谢谢您的评价！"))


@bp.route("/p/<token>/appeal", methods=["POST"])
def appeal(token: str):
    form = AppealForm(prefix="appeal")
    return _post(token, "appeal", form,
                 lambda link: operations.appeal(link, form.version.data, reason=form.reason.data),
                 _("您的申诉已提交，客服会重新处理并与您联系。"))


# ---------------------------------------------------------------- staff side

@bp.app_template_global()
def customer_link_card(case, token: str | None) -> dict:
    """For the case page's 顾客进度链接 card: the link, and the customer's ratings and appeals.

    The case page is read often: its case row brings the token of the link in force
    (`token`, None when there is none; portal/cases/panels.CaseHas.link_token), and the ratings
    and appeals are asked for only once a result is there (a customer can rate or appeal only
    then, which leaves the case in a result state or counted in reopen_count /
    callback_rejections); the QR code is an image of its own (qr below)."""
    ratings, appeals = [], []
    if case.state in present.RESULT_STATES or case.reopen_count or case.callback_rejections:
        ratings = db.session.execute(sa.select(CustomerRating).where(CustomerRating.case_id == case.id)
                                     .order_by(CustomerRating.id.desc())).scalars().all()
        appeals = db.session.execute(sa.select(CustomerAppeal).where(CustomerAppeal.case_id == case.id)
                                     .order_by(CustomerAppeal.id.desc())).scalars().all()
    return {"token": token, "url": links.absolute_url_of(token) if token is not None else None,
            "usable": token is not None and not links.expired(case), "expires_at": links.expires_at(case),
            "ratings": ratings, "appeals": appeals,
            "may_regenerate": current_user.has_role(Role.DESK, Role.REP)}


@bp.route("/cases/<number>/customer-link/qr.svg")
@login_required
def qr(number: str):
    """The card's QR code of the case's link in force (404 if it has none yet)."""
    case = get_case(number)
    link = links.current_link(case.id)
    if link is None:
        abort(404)
    svg = qr_svg(links.absolute_url(link), scale=4, title=_("顾客进度链接二维码"))
    return current_app.response_class(str(svg).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1),
                                      mimetype="image/svg+xml")


@bp.route("/cases/<number>/receipt")
@login_required
def receipt(number: str):
    """The printable receipt: the case number, what to expect, the link and its QR code."""
    case = get_case(number)
    link = links.current_link(case.id)
    if link is None:
        # A case from before the progress page: its link is made on first print.
        link = links.create_link(case, current_user)
        db.session.commit()
    url = links.absolute_url(link)
    return render_template("customer/receipt.html", case=case, url=url,
                           qr=qr_svg(url, scale=5, title=_("顾客进度链接二维码")),
                           hotline=current_app.config["CUSTOMER_HOTLINE"])


@bp.route("/cases/<number>/customer-link", methods=["POST"])
@login_required
def regenerate(number: str):
    case = get_case(number)
    try:
        operations.regenerate_link(case, current_user._get_current_object())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("cases.detail", number=case.number)), exc.status
    flash(_("已生成新的顾客进度链接，原链接已失效。"), "success")
    return redirect(url_for("cases.detail", number=case.number) + "#customer-link")
