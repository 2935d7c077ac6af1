"""Managing webhook endpoints (admin): each change checked, audited and committed as one.

The secret is shown to the admin on the endpoint's page (the receiver needs it) but never
written to the audit trail, which says only that it was set or rotated."""
from __future__ import annotations

import secrets
import urllib.parse

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.clock import utcnow
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.notify.outbox import hand_to_workers, retry_message
from portal.org.enums import Role
from portal.org.models import User
from portal.signing import audit
from portal.webhooks import emit
from portal.webhooks.events import EVENTS, PING
from portal.webhooks.models import WebhookEndpoint

OBJECT_TYPE = "webhook_endpoint"


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _require_admin(actor: User) -> None:
    if actor is None or not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("只有系统管理员可以配置 Webhook。"))


def _check(name, url, events) -> dict:
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("请填写名称")
    elif len(name) > 100:
        errors["name"] = _("名称最多 100 个字")
    url = (url or "").strip()
    parts = urllib.parse.urlsplit(url)
    if not url:
        errors["url"] = _("请填写接收地址")
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        errors["url"] = _("接收地址应以 https:// 或 http:// 开头")
    elif len(url) > 500:
        errors["url"] = _("接收地址最多 500 个字符")
    elif parts.username or parts.password:
        errors["url"] = _("接收地址中不要写用户名和密码：接收方请用签名核对来源")
    else:
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            errors["url"] = _("接收地址的端口不正确")
    events = [e for e in (events or []) if e]
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        errors["events"] = _("未知的事件：%(events)s", events=", ".join(unknown))
    elif not events:
        errors["events"] = _("请至少选择一个事件")
    if errors:
        message = next(iter(errors.values())) if len(errors) == 1 else _("请修改标出的项目。")
        raise ValidationError(message, errors)
    return {"name": name, "url": url, "events": [e for e in EVENTS if e in events]}


def snapshot(endpoint: WebhookEndpoint) -> dict:
    return {"name": endpoint.name, "url": endpoint.url, "events": list(endpoint.events or []),
            "active": endpoint.active}


def _save(action: str, actor: User, endpoint: WebhookEndpoint, before: dict | None,
          note: str | None = None) -> bool:
    db.session.flush()
    after = snapshot(endpoint)
    if before is not None:
        changed = {k for k in after if before.get(k) != after[k]}
        if not changed and note is None:
            db.session.rollback()
            return False
        before, after = {k: before[k] for k in changed}, {k: after[k] for k in changed}
    audit.record(action, actor=actor, object_type=OBJECT_TYPE, object_id=endpoint.id,
                 before=before, after=after, note=note)
    db.session.commit()
    return True


def add_endpoint(actor: User, *, name: str, url: str, events) -> WebhookEndpoint:
    _require_admin(actor)
    endpoint = WebhookEndpoint(active=True, secret=new_secret(), **_check(name, url, events))
    db.session.add(endpoint)
    _save("webhook_added", actor, endpoint, None)
    return endpoint


def update_endpoint(actor: User, endpoint: WebhookEndpoint, *, name: str, url: str, events) -> WebhookEndpoint:
    """Name, address and events; deliveries not yet made go to the new address."""
    _require_admin(actor)
    clean = _check(name, url, events)
    before = snapshot(endpoint)
    for key, value in clean.items():
        setattr(endpoint, key, value)
    _save("webhook_updated", actor, endpoint, before)
    return endpoint


def set_active(actor: User, endpoint: WebhookEndpoint, active: bool) -> WebhookEndpoint:
    """A stopped endpoint gets no new events; its deliveries still waiting are cancelled (in
    the same transaction), so they are not tried against a receiver that was switched off."""
    _require_admin(actor)
    before = snapshot(endpoint)
    endpoint.active = active
    note = None
    if not active:
        cancelled = db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.channel == "webhook", OutboxMessage.address == str(endpoint.id),
                   OutboxMessage.status.in_(("pending", "failed")))
            .values(status="cancelled"), execution_options={"synchronize_session": False}).rowcount
        note = f"cancelled {cancelled} waiting deliveries" if cancelled else None
    _save("webhook_activated" if active else "webhook_deactivated", actor, endpoint, before, note=note)
    return endpoint


def rotate_secret(actor: User, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret at once: every attempt from now on (retries too) is signed with it."""
    _require_admin(actor)
    endpoint.secret = new_secret()
    endpoint.secret_rotated_at = utcnow()
    _save("webhook_secret_rotated", actor, endpoint, snapshot(endpoint), note="secret rotated")
    return endpoint


def send_ping(actor: User, endpoint: WebhookEndpoint) -> OutboxMessage:
    """A "ping" delivery to this endpoint only (active or not), through the outbox like any."""
    _require_admin(actor)
    now = utcnow()
    data = {"message": "来自客诉平台的测试消息", "endpoint": endpoint.name}
    [msg] = emit.emit(PING, data, key=f"{now.timestamp():.6f}", endpoint_ids=[endpoint.id], occurred_at=now)
    db.session.flush()
    audit.record("webhook_pinged", actor=actor, object_type=OBJECT_TYPE, object_id=endpoint.id,
                 after={"message_id": msg.id})
    db.session.commit()
    hand_to_workers([msg.id])
    return msg


def retry_delivery(actor: User, endpoint: WebhookEndpoint, message_id: int) -> None:
    """A failed or dead delivery of this endpoint is tried again now (same delivery id)."""
    _require_admin(actor)
    msg = db.session.get(OutboxMessage, message_id)
    if msg is None or msg.channel != "webhook" or msg.address != str(endpoint.id):
        raise ValidationError(_("没有这条投递记录。"))
    if not endpoint.active:
        raise Conflict(_("Webhook %(name)s 已停用，请先启用再重试。", name=endpoint.name))
    if not retry_message(message_id):
        db.session.rollback()
        raise Conflict(_("这条投递已不是失败状态，无需重试。"))
    audit.record("webhook_retried", actor=actor, object_type=OBJECT_TYPE, object_id=endpoint.id,
                 after={"message_id": message_id})
    db.session.commit()
    hand_to_workers([message_id])
