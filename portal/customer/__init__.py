"""The customer's own progress page (顾客进度页): an unguessable link per case, where the person
who complained sees the stage and the result, adds what was asked for, rates and appeals."""
from flask import Blueprint

bp = Blueprint("customer", __name__)
