"""The corrective-action sheet (纠正预防单): issued by quality, answered by the department."""
from flask import Blueprint

bp = Blueprint("capa", __name__, url_prefix="/ca")
