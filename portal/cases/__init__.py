"""The complaint (客诉) case: intake, workflow, list and detail."""
from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases")
