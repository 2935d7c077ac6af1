"""The bell (消息): the unread count in the navigation and the list of a user's in-app messages."""
from flask import Blueprint

bp = Blueprint("bell", __name__, url_prefix="/bell")

from portal.bell import routes  # noqa: E402,F401
