"""What an integration changes besides registering a case: files added to a case it may see."""
from __future__ import annotations

from flask_babel import gettext as _

from portal.cases import operations
from portal.cases.evidence import StoredFile
from portal.cases.models import Case
from portal.cases.states import State
from portal.errors import Conflict
from portal.extensions import db
from portal.org.models import User
from portal.signing import audit

CLOSED_STATES = (State.CLOSED, State.REJECTED)


def attach_files(case: Case, actor: User, files: list[StoredFile]) -> list[dict]:
    """Add evidence files (already checked and stored by portal.cases.evidence) to an open
    case: the rows and their audit event in one transaction, renditions by a worker."""
    if case.state in CLOSED_STATES:
        raise Conflict(_("投诉 %(number)s 已结案，不能再添加附件。", number=case.number))
    rows = operations._attach(case, files, actor, "evidence")
    audit.record("files_added", actor=actor, object_type="case", object_id=case.id, case_id=case.id,
                 after={"files": rows})
    db.session.commit()
    operations._renditions_for(case, files)
    return [{"name": f.original_name, "content_type": f.content_type, "size": f.size, "sha256": f.sha256}
            for f in files]
