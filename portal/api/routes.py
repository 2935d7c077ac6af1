"""/api/v1/: create a case, attach files, read a case's public status, reference data.

Thin like the pages: the request is checked here (types, the token's scope, the intake form's
own validators in both languages), portal.cases.operations.register_case registers the case
and portal/api/operations.py attaches files; every call is logged (ApiCall)."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app, g, jsonify, request
from portal.i18n import force_locale
from werkzeug.datastructures import FileStorage, MultiDict

from portal.api import bp, ratelimit, tokens
from portal.api.errors import ApiError, both, english, field
from portal.api.models import ApiCall, ApiIdempotency
from portal.api.schema import (CREATE_FIELDS, CUSTOMER_TYPES, FORM_FIELDS, MSG_BRANCH, MSG_NOT_OBJECT,
                               MSG_PRODUCT, MSG_RECEIVED, MSG_REQUIRED, MSG_TYPE, MSG_UNKNOWN)
from portal.cases.enums import Channel, CustomerType
from portal.cases.models import Case
from portal.cases.states import State
from portal.clock import SHANGHAI, as_utc, utcnow
from portal.errors import AlreadySubmitted, DomainError
from portal.extensions import db

PUBLIC = {"api.openapi_json"}  # answered without a token
UPLOAD_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/heic": "heic", "image/heif": "heic",
                "image/webp": "webp", "application/pdf": "pdf"}
IDEMPOTENCY_MAX = 100


# ---------------------------------------------------------------- every call: token, rate, log

@bp.before_request
def _authenticate():
    g.api_started = time.perf_counter()
    g.api_case_id = None
    g.api_token = None
    if request.endpoint in PUBLIC:
        return None
    token, problem = tokens.find(request.headers.get("Authorization"))
    g.api_token = token
    # Read now: after the call's commits the row is expired, and the log would load it again.
    g.api_token_seen = (token.id, token.last_used_at) if token is not None else None
    if problem:
        raise ApiError(problem, headers={"WWW-Authenticate": 'Bearer realm="api"'})
    allowed, remaining, reset = ratelimit.hit(token.prefix, token.rate_per_minute)
    g.api_rate = (token.rate_per_minute, remaining, reset)
    if not allowed:
        raise ApiError("rate_limited", headers={"Retry-After": str(reset)})
    return None


@bp.after_request
def _log(resp):
    token = g.get("api_token")
    rate = g.get("api_rate")
    if rate:
        resp.headers["X-RateLimit-Limit"] = str(rate[0])
        resp.headers["X-RateLimit-Remaining"] = str(rate[1])
        resp.headers["X-RateLimit-Reset"] = str(rate[2])
    resp.headers["Cache-Control"] = "no-store"
    if request.endpoint in PUBLIC and token is None:
        return resp
    log_call(resp)
    return resp


def log_call(resp) -> None:
    """One ApiCall row, on a connection of its own (the request's may be rolled back)."""
    seen = g.get("api_token_seen")
    code = None
    if resp.status_code >= 400 and resp.is_json:
        code = ((resp.get_json(silent=True) or {}).get("error") or {}).get("code")
    started = g.get("api_started") or time.perf_counter()
    now = utcnow()
    row = {"token_id": seen[0] if seen is not None else None, "at": now, "method": request.method[:8],
           "path": request.path[:200], "status": resp.status_code, "code": code,
           "case_id": g.get("api_case_id"), "ms": int((time.perf_counter() - started) * 1000),
           "ip": (request.remote_addr or "")[:45] or None,
           "idempotency_key": (request.headers.get("Idempotency-Key") or "")[:100] or None}
    try:
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # A log line, and the create's answer kept for its Idempotency-Key (rebuilt
                # from the case if lost): not worth waiting for the disk.
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
            conn.execute(sa.insert(ApiCall.__table__).values(**row))
            if seen is not None and (seen[1] is None or (now - as_utc(seen[1])).total_seconds() > 60):
                from portal.api.models import ApiToken
                conn.execute(sa.update(ApiToken.__table__).where(ApiToken.id == seen[0])
                             .values(last_used_at=now))
            if (answer := g.pop("api_idempotent_answer", None)) is not None:
                conn.execute(sa.update(ApiIdempotency.__table__)
                             .where(ApiIdempotency.id == answer[0]).values(response=answer[1]))
    except Exception:  # noqa: BLE001 - the answer goes out even if its log line cannot be written
        current_app.logger.exception("API call log not written")


def _writer():
    token = g.api_token
    if token.read_only:
        raise ApiError("read_only_token")
    return token


# ---------------------------------------------------------------- presenting a case

def _label(enum_member) -> dict | None:
    if enum_member is None:
        return None
    with force_locale("zh_CN"):
        zh = enum_member.label
    with force_locale("en"):
        en = enum_member.label
    return {"code": enum_member.value, "label": zh, "label_en": en}


def _iso(value) -> str | None:
    return as_utc(value).isoformat().replace("+00:00", "Z") if value is not None else None


def links(case: Case) -> dict:
    from portal.customer.links import absolute_url, current_link
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    customer = current_link(case.id)
    return {"self": f"/api/v1/cases/{case.number}", "attachments": f"/api/v1/cases/{case.number}/attachments",
            "desk": f"{base}/cases/{case.number}", "customer": absolute_url(customer) if customer else None}


def created_body(case: Case) -> dict:
    return {"number": case.number, "status": _label(case.state), "links": links(case)}


def _result(case: Case) -> dict | None:
    """What the customer is told: the solution once it is decided, or why it was refused."""
    if case.state == State.REJECTED:
        return {"kind": "rejected", "solution_form": None, "text": case.validity_reason, "compensation": None}
    if case.state in (State.APPROVED, State.CONFIRMING, State.CLOSED) and case.solution_form is not None:
        with force_locale("zh_CN"):
            comp = case.compensation_summary or None
        return {"kind": "solution", "solution_form": _label(case.solution_form), "text": case.solution_text,
                "compensation": comp}
    return None


def public_status(case: Case) -> dict:
    return {"number": case.number, "channel": _label(case.channel), "status": _label(case.state),
            "received_at": _iso(case.received_at), "due_at": _iso(case.due_at),
            "closed_at": _iso(case.closed_at), "result": _result(case),
            "attachments": len(case.attachments), "links": links(case)}


def _scoped_case(number: str) -> Case:
    """The case if the token's scope covers it; otherwise 404, as if it did not exist."""
    case = db.session.execute(sa.select(Case).where(Case.number == number, tokens.scope_clause(g.api_token))
                              ).unique().scalar_one_or_none()
    if case is None:
        raise ApiError("not_found", message="未找到该投诉，或该令牌无权查看。",
                       message_en="No such case, or this token may not read it.")
    return case


# ---------------------------------------------------------------- reading the create request

def _body() -> tuple[dict, list[FileStorage]]:
    """The JSON body (application/json), or the `data` part and `files` of a multipart create."""
    mimetype = request.mimetype
    if mimetype == "application/json" or mimetype.endswith("+json"):
        raw = request.get_data(cache=False)
        try:
            data = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ApiError("invalid_json") from None
        files = []
    elif mimetype == "multipart/form-data":
        part = request.form.get("data")
        if part is None and "data" in request.files:
            part = request.files["data"].read().decode("utf-8", "replace")
        if part is None:
            raise ApiError("validation_failed", fields={"data": both(MSG_REQUIRED)})
        try:
            data = json.loads(part)
        except ValueError:
            raise ApiError("invalid_json") from None
        files = [f for f in request.files.getlist("files") + request.files.getlist("file") if f and f.filename]
    else:
        raise ApiError("unsupported_media_type",
                       message="请以 application/json 或 multipart/form-data（data + files）提交。",
                       message_en="Send application/json, or multipart/form-data with a data part and files.")
    if not isinstance(data, dict):
        raise ApiError("validation_failed", fields={"body": both(MSG_NOT_OBJECT)})
    return data, files


def _type_ok(kind: str, value) -> bool:
    if kind in ("string", "date", "date-time"):
        return isinstance(value, str)
    if kind == "integer":  # JSON has numbers: 2.0 is the integer 2 (JSON Schema agrees)
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "channel":
        return isinstance(value, str) and value in {c.value for c in tokens.API_CHANNELS}
    if kind == "customer_type":
        return isinstance(value, str) and value in CUSTOMER_TYPES
    return False


def _validated_form(form_data: MultiDict, locale: str):
    """The intake form filled with the request's fields and validated in `locale`; its errors."""
    from forms.cases import IntakeForm
    with force_locale(locale):
        form = IntakeForm(form_data, meta={"csrf": False}, desk=True, branches=())
        form.validate()
        return form, {name: str(form[name].errors[0]) for name in FORM_FIELDS if form[name].errors}


def check_create(data: dict) -> tuple[dict, Channel, int | None, datetime | None]:
    """The request's fields checked as the intake form checks them: (case data, channel,
    branch_id, received_at), or ApiError validation_failed with a message per field."""
    errors: dict[str, dict] = {}
    data = {k: int(v) if isinstance(v, float) and CREATE_FIELDS.get(k, ("",))[0] == "integer"
            and v.is_integer() and abs(v) < 2 ** 53 else v for k, v in data.items()}
    for name in data:
        if name not in CREATE_FIELDS:
            errors[name] = both(MSG_UNKNOWN)
    for name, (kind, required, _zh, _en) in CREATE_FIELDS.items():
        value = data.get(name)
        if value is None:
            if required:
                errors[name] = both(MSG_REQUIRED)
            continue
        if not _type_ok(kind, value):
            errors[name] = both(MSG_TYPE[kind])
    # A catalogue product names itself.
    product = None
    if "product_id" not in errors and data.get("product_id") is not None:
        from portal.batches.models import Product
        product = db.session.get(Product, data["product_id"])
        if product is None:
            errors["product_id"] = both(MSG_PRODUCT)
    if "branch_id" not in errors and data.get("branch_id") is not None:
        from portal.org.enums import UnitKind
        from portal.org.tree import unit_tree
        u = unit_tree().units.get(data["branch_id"])
        if u is None or u.kind != UnitKind.BRANCH:
            errors["branch_id"] = both(MSG_BRANCH)
    received = None
    if "received_at" not in errors and data.get("received_at") is not None:
        try:
            received = datetime.fromisoformat(data["received_at"].replace("Z", "+00:00"))
            if received.tzinfo is None:
                received = received.replace(tzinfo=SHANGHAI)
        except ValueError:
            errors["received_at"] = both(MSG_RECEIVED)
    form_data = MultiDict()
    for name in FORM_FIELDS:
        value = data.get(name)
        if name in errors or value is None:
            continue
        kind = CREATE_FIELDS[name][0]
        if kind == "boolean":
            if value:
                form_data[name] = "y"
        else:
            form_data[name] = str(value)
    if product is not None and not form_data.get("product_name"):
        form_data["product_name"] = product.name
        if not form_data.get("product_spec") and product.spec:
            form_data["product_spec"] = product.spec
    form, zh = _validated_form(form_data, "zh_CN")
    if zh:  # WTForms' own messages are translated by WTForms: validate again in English
        _form, en = _validated_form(form_data, "en")
        for name, message in zh.items():
            if name not in errors:
                errors[name] = {"message": message, "message_en": en.get(name, english(message))}
    if errors:
        raise ApiError("validation_failed", fields=errors)
    values = form.data_for_case()
    values["customer_type"] = CustomerType.get(data.get("customer_type")) or CustomerType.CONSUMER
    return values, Channel(data["channel"]), data.get("branch_id"), received


def _check_scope(token, channel: Channel, branch_id: int | None) -> None:
    if not tokens.channel_allowed(token, channel):
        with force_locale("zh_CN"):
            zh = channel.label
        raise ApiError("channel_not_allowed", message=f"该接口令牌不能登记「{zh}」渠道的投诉。",
                       message_en=f"This API token may not create cases for the channel '{channel.value}'.")
    if not tokens.branch_allowed(token, branch_id):
        raise ApiError("branch_not_allowed")


# ---------------------------------------------------------------- Idempotency-Key

def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not (1 <= len(key) <= IDEMPOTENCY_MAX) or not all(33 <= ord(ch) < 127 for ch in key):
        raise ApiError("invalid_idempotency_key")
    return key


def intake_key_for(token_id: int, key: str) -> str:
    """Case.intake_key of an API create (unique; at most 64 characters, never like a form's)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()).decode().rstrip("=")
    return f"api:{token_id}:{digest}"


def _fingerprint(data: dict, files: list[FileStorage]) -> str:
    h = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())
    for f in files:
        pos = f.stream.tell()
        fh = hashlib.sha256()
        for chunk in iter(lambda: f.stream.read(1 << 20), b""):
            fh.update(chunk)
        f.stream.seek(pos)
        h.update(f"|{f.filename}|{fh.hexdigest()}".encode())
    return h.hexdigest()


def _replay(case: Case, claim: ApiIdempotency | None):
    g.api_case_id = case.id
    body = (claim.response if claim is not None and claim.response else None) or created_body(case)
    resp = jsonify(body)
    resp.status_code = 201
    resp.headers["Idempotency-Replayed"] = "true"
    resp.headers["Location"] = f"/api/v1/cases/{case.number}"
    return resp


def _claim(token, key: str, fingerprint: str) -> tuple[ApiIdempotency, Case | None]:
    """The key's claim row (made now if new) and the case it already made, if any. The same
    key with another body is refused; a claim in flight goes on to register_case, whose
    unique intake_key lets only one case through."""
    key_sha = hashlib.sha256(key.encode()).hexdigest()
    q = sa.select(ApiIdempotency).where(ApiIdempotency.token_id == token.id, ApiIdempotency.key_sha256 == key_sha)
    claim = db.session.execute(q).scalar_one_or_none()
    if claim is None:
        try:
            claim = ApiIdempotency(token_id=token.id, key_sha256=key_sha, request_sha256=fingerprint)
            db.session.add(claim)
            db.session.commit()
            return claim, None  # a new key: no case can have it yet (register_case's intake_key decides)
        except sa.exc.IntegrityError:
            db.session.rollback()
            claim = db.session.execute(q).scalar_one()
    if claim.request_sha256 != fingerprint:
        raise ApiError("idempotency_key_reused")
    case = db.session.execute(sa.select(Case).where(Case.intake_key == intake_key_for(token.id, key))
                              ).unique().scalar_one_or_none()
    return claim, case


def _release(claim: ApiIdempotency | None, key: str | None) -> None:
    """A create that failed leaves its key free for the corrected request."""
    if claim is None:
        return
    db.session.rollback()
    db.session.execute(sa.delete(ApiIdempotency).where(ApiIdempotency.id == claim.id))
    db.session.commit()


def _domain_error(exc: DomainError) -> ApiError:
    fields = {}
    for name, message in exc.field_errors.items():
        fields[name if name != "photos" else "files"] = field(message)
    from portal.errors import Conflict, PermissionDenied
    if isinstance(exc, PermissionDenied):
        return ApiError("forbidden", message=exc.message)
    if isinstance(exc, Conflict):
        return ApiError("conflict", message=exc.message)
    return ApiError("validation_failed", message=exc.message, fields=fields)


# ---------------------------------------------------------------- the operations

@bp.route("/cases", methods=["POST"])
def create_case():
    token = _writer()
    data, uploads = _body()
    values, channel, branch_id, received = check_create(data)
    _check_scope(token, channel, branch_id)
    key = _idempotency_key()
    claim = None
    if key is not None:
        claim, existing = _claim(token, key, _fingerprint(data, uploads))
        if existing is not None:
            return _replay(existing, claim)
        claim_id = claim.id  # read before register_case's commit expires the row
    from portal.cases import evidence, operations
    actor = token.service_user
    with force_locale("zh_CN"):
        staged, upload_error = evidence.collect(uploads, [], actor.id)
    if upload_error:
        _release(claim, key)
        raise _upload_error(upload_error, uploads)
    try:
        with force_locale("zh_CN"):
            case = operations.register_case(actor, values, staged, channel=channel, branch_id=branch_id,
                                            received_at=received, vouched=True,
                                            intake_key=intake_key_for(token.id, key) if key else None)
    except AlreadySubmitted as exc:
        db.session.rollback()
        case = db.session.execute(sa.select(Case).where(Case.number == exc.case_number)).unique().scalar_one()
        return _replay(case, claim)
    except DomainError as exc:
        db.session.rollback()
        _release(claim, key)
        raise _domain_error(exc) from None
    g.api_case_id = case.id
    body = created_body(case)
    if claim is not None:
        g.api_idempotent_answer = (claim_id, body)  # kept with the call's log line (log_call)
    resp = jsonify(body)
    resp.status_code = 201
    resp.headers["Location"] = body["links"]["self"]
    return resp


def _upload_error(message: str, uploads) -> ApiError:
    """evidence.collect's message (Chinese, sentences joined) as the API's error: a file or the
    files together too large is 413, a type the portal does not take 415, anything else 422."""
    if "超过单个文件" in message or "附件总大小超过" in message:
        return ApiError("payload_too_large", message=message, fields={"files": field(message)})
    if "格式不受支持" in message:
        return ApiError("unsupported_media_type", message=message, fields={"files": field(message)})
    return ApiError("validation_failed", message=message, fields={"files": field(message)})


@bp.route("/cases/<number>", methods=["GET"])
def get_case(number: str):
    case = _scoped_case(number)
    g.api_case_id = case.id
    return jsonify(public_status(case))


@bp.route("/cases/<number>/attachments", methods=["POST"])
def add_attachments(number: str):
    token = _writer()
    case = _scoped_case(number)
    g.api_case_id = case.id
    limit = current_app.config["MAX_FILE_BYTES"]
    if request.mimetype == "multipart/form-data":
        uploads = [f for f in request.files.getlist("file") + request.files.getlist("files") if f and f.filename]
        if not uploads:
            raise ApiError("validation_failed", fields={"file": both(MSG_REQUIRED)})
    elif request.mimetype in UPLOAD_TYPES:
        if request.content_length is not None and request.content_length > limit:
            raise ApiError("payload_too_large",
                           message=f"文件超过单个文件 {limit // (1024 * 1024)} MB 的上限。",
                           message_en=f"The file is larger than the {limit // (1024 * 1024)} MB limit.")
        raw = request.get_data(cache=False)
        if not raw:
            raise ApiError("validation_failed", fields={"file": both(MSG_REQUIRED)})
        name = request.headers.get("X-Filename") or f"upload.{UPLOAD_TYPES[request.mimetype]}"
        uploads = [FileStorage(io.BytesIO(raw), filename=name, content_type=request.mimetype)]
    else:
        raise ApiError("unsupported_media_type",
                       message="请以 multipart/form-data（file）或 image/jpeg、image/png、image/heic、image/webp、application/pdf 提交文件。",
                       message_en="Send multipart/form-data (file), or the file itself as image/jpeg, image/png, "
                                  "image/heic, image/webp or application/pdf.")
    from portal.api import operations
    from portal.cases import evidence
    existing = case.attachments
    with force_locale("zh_CN"):
        staged, upload_error = evidence.collect(uploads, [], token.service_user_id,
                                                existing_bytes=sum(a.size for a in existing),
                                                existing_count=len(existing))
    if upload_error:
        raise _upload_error(upload_error, uploads)
    try:
        with force_locale("zh_CN"):
            rows = operations.attach_files(case, token.service_user, staged)
    except DomainError as exc:
        db.session.rollback()
        if exc.status == 409:
            raise ApiError("case_closed", message=exc.message) from None
        raise _domain_error(exc) from None
    resp = jsonify({"number": case.number, "attachments": rows})
    resp.status_code = 201
    return resp


# ---------------------------------------------------------------- reference data

@bp.route("/products", methods=["GET"])
def products():
    from portal.batches.models import Product
    rows = db.session.execute(sa.select(Product).where(Product.active.is_(True)).order_by(Product.code)).scalars()
    return jsonify({"items": [{"id": p.id, "code": p.code, "name": p.name, "spec": p.spec} for p in rows]})


@bp.route("/categories", methods=["GET"])
def categories():
    from portal.cases.models import Category
    rows = db.session.execute(sa.select(Category).where(Category.active.is_(True))
                              .order_by(Category.sort, Category.id)).scalars().all()
    active = {c.id for c in rows}
    return jsonify({"items": [{"id": c.id, "code": c.code, "name": c.name, "parent_id": c.parent_id}
                              for c in rows if c.parent_id is None or c.parent_id in active]})


@bp.route("/channels", methods=["GET"])
def channels():
    token = g.api_token
    return jsonify({"items": [{**_label(c), "allowed": tokens.channel_allowed(token, c)}
                              for c in tokens.API_CHANNELS]})


@bp.route("/branches", methods=["GET"])
def branches():
    from portal.org.enums import UnitKind
    from portal.org.tree import unit_tree
    token = g.api_token
    items = [{"id": u.id, "code": u.code, "name": u.name} for u, _d in unit_tree().ordered(kind=UnitKind.BRANCH)
             if u.id in (token.branch_ids or [])]
    return jsonify({"hq": token.hq, "items": items})


@bp.route("/openapi.json", methods=["GET"])
def openapi_json():
    from portal.api.openapi import document
    return jsonify(document())
