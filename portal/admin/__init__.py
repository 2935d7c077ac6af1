"""Administration: users and organisation units."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from portal.admin import routes  # noqa: E402,F401
from portal.admin import ops  # noqa: E402,F401 - outbox and queues pages (H6)
from portal.admin import sla  # noqa: E402,F401 - time limits and holidays (H1)
from portal.escalation import routes as ladder  # noqa: E402,F401 - the escalation ladder (H5)
from portal.admin import robots  # noqa: E402,F401 - group robots per unit (H3)
from portal.admin import reference  # noqa: E402,F401 - cause tree and compensation rules (issue 12)
from portal.api import admin as api_admin  # noqa: E402,F401 - integration tokens (issue 14)
from portal.webhooks import routes as webhooks  # noqa: E402,F401 - outbound webhooks (issue 14)
