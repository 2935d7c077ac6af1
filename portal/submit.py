"""Running a posted form's operation for a page: the one way a broken rule comes back to it."""
from __future__ import annotations

from flask_babel import gettext as _

from portal.errors import Conflict, DomainError
from portal.extensions import db


def run_form(form, run) -> tuple[str | None, int, bool]:
    """Validate `form`, then call `run()`. Returns (message, status, conflict), status 200 when
    it ran. A broken rule keeps nothing (rolled back) and puts each field's message beside its
    field; `conflict` says the record changed, to be shown as it is now with the reason on top."""
    if not form.validate():
        return form.first_error() or _("请检查填写内容。"), 400, False
    try:
        run()
    except DomainError as exc:
        db.session.rollback()
        for name, msg in exc.field_errors.items():
            if name in form:
                form[name].errors = list(form[name].errors) + [msg]
        return exc.message, exc.status, isinstance(exc, Conflict)
    return None, 200, False
