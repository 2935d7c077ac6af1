"""Admin pages for integration tokens (/admin/api-tokens): list, issue (the token is shown
once, on the answer to the POST, never stored or redirected with), edit the scope, revoke, and
each token's recent calls. Thin: portal.api.tokens does the work."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, render_template, url_for
from flask_babel import gettext as _

from forms.api import ApiTokenForm
from portal.admin import bp
from portal.admin.routes import _actor, _failed, _render_form, _status, admin_only
from portal.api import tokens
from portal.api.models import ApiCall, ApiToken
from portal.errors import DomainError
from portal.extensions import db
from portal.htmx import redirect_to
from portal.org.enums import UnitKind
from portal.org.tree import unit_tree

RECENT_CALLS = 50


def get_token(token_id: int) -> ApiToken:
    return db.session.get(ApiToken, token_id) or abort(404)


def _branches():
    return [u for u, _d in unit_tree().ordered(kind=UnitKind.BRANCH)]


def _form(**kwargs) -> ApiTokenForm:
    return ApiTokenForm(channels=tokens.API_CHANNELS, branches=_branches(), **kwargs)


def _scope_text(t: ApiToken) -> dict:
    from portal.cases.enums import Channel
    units = unit_tree().units
    names = [units[b].name for b in (t.branch_ids or []) if b in units]
    if t.hq:
        names.insert(0, _("总部"))
    # TRANSLATORS: "、" separates the items of a list of names.
    sep = _("、")
    return {"channels": sep.join(Channel(c).label for c in t.channels or []),
            "branches": sep.join(names)}


@bp.route("/api-tokens")
@admin_only
def api_tokens():
    rows = db.session.execute(sa.select(ApiToken).order_by(ApiToken.revoked_at.isnot(None), ApiToken.id.desc())
                              ).scalars().all()
    return render_template("admin/api_tokens.html", rows=rows, scope=_scope_text)


@bp.route("/api-tokens/new", methods=["GET", "POST"])
@admin_only
def api_token_new():
    form = _form()
    message = None
    if form.validate_on_submit():
        try:
            token, plain = tokens.issue_token(_actor(), form.token_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            # Shown this once: only its hash is kept.
            return render_template("admin/api_token_issued.html", token=token, plain=plain,
                                   scope=_scope_text(token))
    return _render_form("admin/api_token_form.html", form, message, _status(), token=None)


@bp.route("/api-tokens/<int:token_id>", methods=["GET", "POST"])
@admin_only
def api_token_edit(token_id: int):
    token = get_token(token_id)
    form = _form(data={"name": token.name, "channels": token.channels, "hq": token.hq,
                       "branch_ids": [str(b) for b in token.branch_ids or []], "read_only": token.read_only,
                       "rate_per_minute": token.rate_per_minute, "note": token.note})
    message = None
    if token.active and form.validate_on_submit():
        try:
            tokens.update_token(_actor(), token, form.token_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已保存接口令牌 %(name)s 的权限范围。", name=token.name), "success")
            return redirect_to(url_for("admin.api_token_edit", token_id=token.id))
    calls = db.session.execute(sa.select(ApiCall).where(ApiCall.token_id == token.id)
                               .order_by(ApiCall.id.desc()).limit(RECENT_CALLS)).scalars().all()
    return _render_form("admin/api_token_form.html", form, message, _status(), token=token, calls=calls,
                        scope=_scope_text(token))


@bp.route("/api-tokens/<int:token_id>/revoke", methods=["POST"])
@admin_only
def api_token_revoke(token_id: int):
    token = get_token(token_id)
    tokens.revoke_token(_actor(), token)
    flash(_("已吊销接口令牌 %(name)s，使用它的请求将被拒绝。", name=token.name), "success")
    return redirect_to(url_for("admin.api_token_edit", token_id=token.id))
