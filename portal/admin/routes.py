"""Admin pages (placeholder until the admin pages land)."""
from flask_login import login_required

from portal.admin import bp
from portal.auth.decorators import roles_required


@bp.route("/users")
@login_required
@roles_required("admin")
def users():
    return "admin"
