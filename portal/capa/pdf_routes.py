"""Download of a corrective-action sheet as PDF: whoever may open the sheet's page, as that
page shows it (personal data of the cases by the reader's rights); a draft until signed."""
from __future__ import annotations

from flask import Blueprint, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.capa.access import visible_sheet_or_404
from portal.capa.document import sheet_pdf_path

bp = Blueprint("capa_pdf", __name__, url_prefix="/ca")


@bp.route("/<number>/pdf")
@login_required
def download(number: str):
    sheet = visible_sheet_or_404(number, current_user)
    path = sheet_pdf_path(sheet, current_user._get_current_object())
    return send_file(path, mimetype="application/pdf", conditional=True,
                     download_name=_("%(number)s-纠正预防单.pdf", number=sheet.number))
