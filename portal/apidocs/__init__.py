"""The integrators' page (/api/docs): how to get a token, create a case with curl, attach a
photo, read its status, and receive signed webhooks. Open without login (it holds no data);
its operation tables are read from the OpenAPI document the API serves."""
from flask import Blueprint

bp = Blueprint("apidocs", __name__, url_prefix="/api/docs")

from portal.apidocs import routes  # noqa: E402,F401
