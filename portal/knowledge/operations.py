"""Marking a case typical, editing what was learned, taking the mark back: one transaction
each, with its audit event."""
from __future__ import annotations

from flask_babel import gettext as _

from portal.cases.models import Case
from portal.cases.states import State
from portal.clock import utcnow
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.extensions import db
from portal.knowledge.models import TAGS_LEN, TypicalCase
from portal.org.enums import Role
from portal.org.models import User
from portal.signing import audit

OBJECT_TYPE = "typical_case"
MARKING_ROLES = frozenset({Role.QUALITY, Role.LEADER})


def may_mark(user: User) -> bool:
    return bool(user.roles & MARKING_ROLES)


def normalise_tags(text: str) -> str:
    """Tags as typed, separated by spaces or commas (，、 included), each once, in order."""
    for sep in ",，、;；":
        text = text.replace(sep, " ")
    return " ".join(dict.fromkeys(text.split()))


def _check(case: Case, actor: User, typical: TypicalCase | None, version) -> None:
    if not may_mark(actor):
        raise PermissionDenied(_("只有品保和部门领导可以标记典型案例。"))
    if typical is not None and version is not None and int(version) != typical.version:
        raise Conflict(_("投诉 %(number)s 的典型案例已被他人修改，请查看最新内容后再保存。", number=case.number))


def mark_typical(case: Case, actor: User, lessons: str, tags: str, version=None) -> TypicalCase:
    """Mark a closed case typical, or save new lessons and tags for one already marked
    (`version` is the form's: someone else's save in between is a conflict)."""
    typical = db.session.query(TypicalCase).filter_by(case_id=case.id).one_or_none()
    _check(case, actor, typical, version)
    if case.state != State.CLOSED:
        raise Conflict(_("投诉 %(number)s 尚未结案，结案后才能标为典型案例。", number=case.number))
    lessons, tags = (lessons or "").strip(), normalise_tags(tags or "")
    if not lessons:
        raise ValidationError(_("请填写处理心得。"), {"lessons": _("请填写处理心得。")})
    if len(tags) > TAGS_LEN:
        raise ValidationError(_("标签合计不能超过 %(n)s 个字。", n=TAGS_LEN),
                              {"tags": _("标签合计不能超过 %(n)s 个字。", n=TAGS_LEN)})
    before = None
    if typical is None:
        typical = TypicalCase(case=case, marked_by=actor, marked_at=utcnow(), version=1,
                              lessons=lessons, tags=tags)
        db.session.add(typical)
        action = "typical.mark"
    else:
        before = {"lessons": typical.lessons, "tags": typical.tags}
        typical.lessons, typical.tags, typical.version = lessons, tags, typical.version + 1
        action = "typical.edit"
    audit.record(action, actor=actor, object_type=OBJECT_TYPE, object_id=typical.id, case_id=case.id,
                 before=before, after={"lessons": lessons, "tags": tags})
    db.session.commit()
    return typical


def unmark_typical(case: Case, actor: User, version) -> None:
    """Take the case out of the knowledge base."""
    typical = db.session.query(TypicalCase).filter_by(case_id=case.id).one_or_none()
    if typical is None:
        raise Conflict(_("投诉 %(number)s 已不是典型案例。", number=case.number))
    _check(case, actor, typical, version)
    audit.record("typical.unmark", actor=actor, object_type=OBJECT_TYPE, object_id=typical.id,
                 case_id=case.id, before={"lessons": typical.lessons, "tags": typical.tags})
    db.session.delete(typical)
    db.session.commit()
