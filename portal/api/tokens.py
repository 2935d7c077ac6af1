"""Integration tokens: issue, change scope, revoke (admin operations, each audited and committed
as one), and authenticating a request's bearer token.

A token reads `kp_<prefix>_<secret>`: the 8-character prefix finds the row (and is shown in
lists and logs), the 40-character secret (~238 bits) is kept only as its SHA-256. Because the
secret is random and long, a plain SHA-256 is enough (no slow hash: nothing to brute-force),
and the comparison is constant-time."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from flask_babel import gettext as _
from portal.i18n import force_locale

from portal.api.models import ApiToken
from portal.cases.enums import Channel
from portal.clock import utcnow
from portal.errors import PermissionDenied, ValidationError
from portal.extensions import db
from portal.org.enums import Role, UnitKind
from portal.org.models import User
from portal.org.service import service_user
from portal.org.tree import unit_tree
from portal.signing import audit

_ALPHABET = string.ascii_letters + string.digits
PREFIX_LEN, SECRET_LEN = 8, 40
TOKEN_RE = re.compile(rf"kp_([a-z0-9]{{{PREFIX_LEN}}})_([A-Za-z0-9]{{{SECRET_LEN}}})")
# Channels an integration may report: every way a complaint reaches the company, except a
# rep's own intake in the field (业务员现场) and the bare "接口" itself.
API_CHANNELS = [c for c in Channel if c not in (Channel.FIELD, Channel.API)]
MAX_RATE = 6000


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _require_admin(actor: User) -> None:
    if not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("只有系统管理员可以管理接口令牌。"))


def _scope(data: dict) -> dict:
    """Check a token's name and scope; field errors in Chinese beside each field."""
    errors = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = _("请填写集成名称")
    elif len(name) > 60:
        errors["name"] = _("集成名称最多 60 个字")
    channels = [c for c in (data.get("channels") or [])]
    valid = {c.value for c in API_CHANNELS}
    if not channels:
        errors["channels"] = _("请至少选择一个受理渠道")
    elif any(c not in valid for c in channels):
        errors["channels"] = _("受理渠道无效")
    branches = {u.id for u, _d in unit_tree().ordered(kind=UnitKind.BRANCH)}
    branch_ids = sorted({int(b) for b in (data.get("branch_ids") or [])})
    if any(b not in branches for b in branch_ids):
        errors["branch_ids"] = _("分公司不存在")
    hq = bool(data.get("hq"))
    if not hq and not branch_ids:
        errors["branch_ids"] = _("请选择总部或至少一个分公司")
    rate = data.get("rate_per_minute")
    if not isinstance(rate, int) or not 1 <= rate <= MAX_RATE:
        errors["rate_per_minute"] = _("每分钟请求数须在 1 到 %(max)s 之间", max=MAX_RATE)
    if errors:
        raise ValidationError(_("请修改标出的项目。"), errors)
    return {"name": name, "channels": sorted(channels), "branch_ids": branch_ids, "hq": hq,
            "read_only": bool(data.get("read_only")), "rate_per_minute": rate,
            "note": (data.get("note") or "").strip()[:200] or None}


def holder_name(name: str) -> str:
    """The service account's name: stored data, so Chinese whatever the admin reads."""
    with force_locale("zh_CN"):
        return _("接口：%(name)s", name=name)[:64]


def _snapshot(t: ApiToken) -> dict:
    return {"name": t.name, "prefix": t.prefix, "channels": t.channels, "branch_ids": t.branch_ids,
            "hq": t.hq, "read_only": t.read_only, "rate_per_minute": t.rate_per_minute, "note": t.note}


def issue_token(actor: User, data: dict) -> tuple[ApiToken, str]:
    """A new token for an integration; returns the row and the token string (shown once)."""
    _require_admin(actor)
    values = _scope(data)
    prefix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _i in range(PREFIX_LEN))
    secret = "".join(secrets.choice(_ALPHABET) for _i in range(SECRET_LEN))
    plain = f"kp_{prefix}_{secret}"
    # The service account needs the token's id for its name: a placeholder first.
    holder = service_user(f"api:new:{prefix}", holder_name(values["name"]))
    token = ApiToken(prefix=prefix, secret_sha256=sha256(secret), service_user_id=holder.id,
                     created_by_id=actor.id, **values)
    db.session.add(token)
    db.session.flush()
    holder.username = f"svc:api:{token.id}"
    audit.record("api_token_issued", actor=actor, object_type="api_token", object_id=token.id,
                 after=_snapshot(token))
    db.session.commit()
    return token, plain


# The demo installation's token (`make run`, README): everyone knows it, like demo1234.
DEMO_TOKEN = "kp_demo0000_DemoOnly" + "0" * 32


def issue_demo_token(actor: User) -> str | None:
    """The demo token (all channels, headquarters and every branch), once; None if it exists."""
    prefix, secret = TOKEN_RE.fullmatch(DEMO_TOKEN).groups()
    if db.session.execute(sa.select(ApiToken.id).where(ApiToken.prefix == prefix)).first():
        return None
    token, _plain = issue_token(actor, {
        "name": "演示集成", "channels": [c.value for c in API_CHANNELS], "hq": True,
        "branch_ids": [u.id for u, _d in unit_tree().ordered(kind=UnitKind.BRANCH)],
        "rate_per_minute": 120, "note": "make run 的演示令牌，正式环境请吊销"})
    token.prefix, token.secret_sha256 = prefix, sha256(secret)
    db.session.commit()
    return DEMO_TOKEN


def update_token(actor: User, token: ApiToken, data: dict) -> ApiToken:
    _require_admin(actor)
    if token.revoked_at is not None:
        raise ValidationError(_("该令牌已吊销，不能修改。"))
    values = _scope(data)
    before = _snapshot(token)
    for k, v in values.items():
        setattr(token, k, v)
    after = _snapshot(token)
    changed = {k for k in after if after[k] != before[k]}
    token.service_user.name = holder_name(token.name)
    audit.record("api_token_changed", actor=actor, object_type="api_token", object_id=token.id,
                 before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    db.session.commit()
    return token


def revoke_token(actor: User, token: ApiToken) -> ApiToken:
    """From now on the token gets 401; its calls, cases and audit events stay."""
    _require_admin(actor)
    if token.revoked_at is not None:
        return token
    token.revoked_at = utcnow()
    audit.record("api_token_revoked", actor=actor, object_type="api_token", object_id=token.id,
                 before={"revoked_at": None}, after={"revoked_at": token.revoked_at})
    db.session.commit()
    return token


def find(header: str | None) -> tuple[ApiToken | None, str | None]:
    """The token a request's Authorization header names, and the error code if it may not be
    used: (token, None) | (None, "unauthorized") | (token, "token_revoked")."""
    if not header:
        return None, "unauthorized"
    scheme, _sp, value = header.strip().partition(" ")
    m = TOKEN_RE.fullmatch(value.strip()) if scheme.lower() == "bearer" else None
    if m is None:
        return None, "unauthorized"
    # The service account comes along (a create acts as it); its roles only if asked (it has none).
    token = db.session.execute(
        sa.select(ApiToken).where(ApiToken.prefix == m.group(1))
        .options(joinedload(ApiToken.service_user).lazyload(User.role_rows))).unique().scalar_one_or_none()
    if token is None or not hmac.compare_digest(token.secret_sha256, sha256(m.group(2))):
        return None, "unauthorized"
    if token.revoked_at is not None:
        return token, "token_revoked"
    return token, None


def channel_allowed(token: ApiToken, channel: Channel) -> bool:
    return channel.value in (token.channels or [])


def branch_allowed(token: ApiToken, branch_id: int | None) -> bool:
    return token.hq if branch_id is None else branch_id in (token.branch_ids or [])


def scope_clause(token: ApiToken):
    """The cases a token may read: its channels, in its branches (or headquarters)."""
    from portal.cases.models import Case
    branch = [Case.branch_id.in_(token.branch_ids)] if token.branch_ids else []
    if token.hq:
        branch.append(Case.branch_id.is_(None))
    return sa.and_(Case.channel.in_([Channel(c) for c in token.channels]), sa.or_(*branch) if branch else sa.false())
