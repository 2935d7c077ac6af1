"""Live look-ups for the intake form: product catalogue search, batch number details."""
from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from portal.batches.lookup import cases_on_batch, find_batch, normalise_batch_no, search_products

bp = Blueprint("batches", __name__, url_prefix="/batches")


@bp.route("/lookup")
@login_required
def lookup():
    raw = request.args.get("batch_no") or next(
        (v for k, v in request.args.items() if k.endswith("batch_no")), "")
    batch_no = normalise_batch_no(raw)
    batch = find_batch(batch_no)
    return render_template("batches/_lookup.html", batch_no=batch_no, batch=batch,
                           others=cases_on_batch(batch_no, viewer=current_user) if batch_no else 0)


@bp.route("/products")
@login_required
def products():
    q = request.args.get("product_name") or request.args.get("q") or ""
    return render_template("batches/_products.html", products=search_products(q), q=q)
