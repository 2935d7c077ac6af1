"""Batch clusters (批号聚集): several complaints on one batch raise one alert to quality."""
from flask import Blueprint

bp = Blueprint("clusters", __name__, url_prefix="/clusters")
