"""Admin pages for webhook endpoints (/admin/webhooks): list, add, edit, stop, rotate the secret,
send a test ping; each endpoint's deliveries with every attempt, and retry. Thin:
portal.webhooks.operations does the work."""
from __future__ import annotations

import json

import sqlalchemy as sa
from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _

from forms.webhooks import WebhookForm
from portal.admin import bp
from portal.admin.ops import OUTCOME_LABELS, STATUS_CLASS, STATUS_LABELS
from portal.admin.routes import _actor, _failed, _render_form, _status, admin_only
from portal.errors import DomainError
from portal.extensions import db
from portal.htmx import redirect_to
from portal.notify.models import OutboxAttempt, OutboxMessage
from portal.webhooks import operations
from portal.webhooks.delivery import parse_response
from portal.webhooks.events import EVENTS
from portal.webhooks.models import WebhookEndpoint

DELIVERIES_SHOWN = 50


def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    return db.session.get(WebhookEndpoint, endpoint_id) or abort(404)


def _counts() -> dict[int, dict[str, int]]:
    rows = db.session.execute(
        sa.select(OutboxMessage.address, OutboxMessage.status, sa.func.count())
        .where(OutboxMessage.channel == "webhook").group_by(OutboxMessage.address, OutboxMessage.status)).all()
    out: dict[int, dict[str, int]] = {}
    for address, status, n in rows:
        if (address or "").isdigit():
            out.setdefault(int(address), {})[status] = n
    return out


@bp.route("/webhooks")
@admin_only
def webhooks():
    rows = db.session.execute(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.active.desc(),
                                                                  WebhookEndpoint.id)).scalars().all()
    return render_template("admin/webhooks.html", rows=rows, counts=_counts(), events=EVENTS)


@bp.route("/webhooks/new", methods=["GET", "POST"])
@admin_only
def webhook_new():
    form = WebhookForm()
    message = None
    if form.validate_on_submit():
        try:
            endpoint = operations.add_endpoint(_actor(), **form.endpoint_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已添加 Webhook %(name)s。请把下方的签名密钥交给接收方。", name=endpoint.name), "success")
            return redirect_to(url_for("admin.webhook_edit", endpoint_id=endpoint.id))
    return _render_form("admin/webhook_form.html", form, message, _status(), endpoint=None, deliveries=[],
                        labels={}, counts={}, shown=None)


def _deliveries(endpoint: WebhookEndpoint, status: str | None):
    stmt = (sa.select(OutboxMessage).where(OutboxMessage.channel == "webhook",
                                           OutboxMessage.address == str(endpoint.id))
            .order_by(OutboxMessage.id.desc()).limit(DELIVERIES_SHOWN))
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    msgs = db.session.execute(stmt).scalars().all()
    tries = {}
    if msgs:
        for a in db.session.execute(sa.select(OutboxAttempt).where(
                OutboxAttempt.message_id.in_([m.id for m in msgs])).order_by(OutboxAttempt.attempt)).scalars():
            tries.setdefault(a.message_id, []).append((a, parse_response(a.response)))
    out = []
    for m in msgs:
        try:
            head = json.loads(m.body)
        except ValueError:
            head = {}
        out.append({"msg": m, "delivery_id": head.get("id"), "type": head.get("type", m.subject),
                    "number": (head.get("data") or {}).get("number"), "attempts": tries.get(m.id, [])})
    return out


def _render_endpoint(form, endpoint, message=None, status=200):
    shown = request.args.get("status") or None
    return _render_form("admin/webhook_form.html", form, message, status, endpoint=endpoint,
                        labels={"status": STATUS_LABELS, "outcome": OUTCOME_LABELS, "status_class": STATUS_CLASS},
                        deliveries=_deliveries(endpoint, shown), shown=shown, counts=_counts().get(endpoint.id, {}))


@bp.route("/webhooks/<int:endpoint_id>", methods=["GET", "POST"])
@admin_only
def webhook_edit(endpoint_id: int):
    endpoint = get_endpoint(endpoint_id)
    form = WebhookForm(data={"name": endpoint.name, "url": endpoint.url, "events": list(endpoint.events or [])})
    message = None
    if form.validate_on_submit():
        try:
            operations.update_endpoint(_actor(), endpoint, **form.endpoint_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已保存 Webhook %(name)s。", name=endpoint.name), "success")
            return redirect_to(url_for("admin.webhook_edit", endpoint_id=endpoint.id))
    return _render_endpoint(form, endpoint, message, _status())


def _act(endpoint: WebhookEndpoint, run, done: str):
    try:
        run()
    except DomainError as exc:
        db.session.rollback()
        endpoint = get_endpoint(endpoint.id)
        form = WebhookForm(formdata=None, data={"name": endpoint.name, "url": endpoint.url,
                                                "events": list(endpoint.events or [])})
        return _render_endpoint(form, endpoint, exc.message, exc.status)
    flash(done, "success")
    return redirect_to(url_for("admin.webhook_edit", endpoint_id=endpoint.id))


@bp.route("/webhooks/<int:endpoint_id>/active", methods=["POST"])
@admin_only
def webhook_toggle(endpoint_id: int):
    endpoint = get_endpoint(endpoint_id)
    activate = request.form.get("active") == "1"
    return _act(endpoint, lambda: operations.set_active(_actor(), endpoint, activate),
                _("已启用 Webhook %(name)s。", name=endpoint.name) if activate
                else _("已停用 Webhook %(name)s，尚未投递的消息已取消。", name=endpoint.name))


@bp.route("/webhooks/<int:endpoint_id>/rotate", methods=["POST"])
@admin_only
def webhook_rotate(endpoint_id: int):
    endpoint = get_endpoint(endpoint_id)
    return _act(endpoint, lambda: operations.rotate_secret(_actor(), endpoint),
                _("已更换签名密钥：从现在起每次投递（包括重试）都用新密钥签名，请尽快告知接收方。"))


@bp.route("/webhooks/<int:endpoint_id>/ping", methods=["POST"])
@admin_only
def webhook_ping(endpoint_id: int):
    endpoint = get_endpoint(endpoint_id)
    return _act(endpoint, lambda: operations.send_ping(_actor(), endpoint),
                _("已发送测试消息（ping），结果见下方投递记录。"))


@bp.route("/webhooks/<int:endpoint_id>/deliveries/<int:message_id>/retry", methods=["POST"])
@admin_only
def webhook_retry(endpoint_id: int, message_id: int):
    endpoint = get_endpoint(endpoint_id)
    return _act(endpoint, lambda: operations.retry_delivery(_actor(), endpoint, message_id),
                _("已重新投递 #%(id)s。", id=message_id))
