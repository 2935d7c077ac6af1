"""The product and batch register (产品与批号): admin pages, and import from CSV and XLSX."""
from flask import Blueprint

bp = Blueprint("catalog", __name__, url_prefix="/catalog")

from portal.catalog import routes  # noqa: E402,F401
