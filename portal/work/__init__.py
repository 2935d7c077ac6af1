"""我的待办 (my work): what waits for the signed-in user, and the navigation badge counting it."""
from flask import Blueprint

bp = Blueprint("work", __name__)

from portal.work import routes  # noqa: E402,F401
