"""Home (my work, portal/work/), language switch, error pages."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import login_required
from flask_wtf.csrf import CSRFError

from portal.errors import render_error_page

bp = Blueprint("web", __name__)


@bp.route("/")
@login_required
def home():
    return redirect(url_for("work.index"))


@bp.route("/lang/<code>")
def set_language(code: str):
    target = request.referrer if request.referrer and request.referrer.startswith(request.host_url) else url_for("web.home")
    resp = redirect(target)
    if code in ("zh_CN", "en"):
        resp.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return resp


@bp.app_errorhandler(CSRFError)
def csrf_error(e):
    return render_error_page(400, _("页面已过期或缺少安全令牌，请刷新页面后重试。"))


def _error(code: int, default: str):
    def handler(e):
        message = getattr(e, "description", None)
        if not message or message.startswith(("The ", "You ", "Forbidden", "Not Found")):
            message = default
        return render_error_page(code, message)
    return handler


# Lazy: each page is rendered in the language of its request.
for _code, _msg in {400: _l("请求有误，请检查后重试。"), 403: _l("您没有权限执行此操作。"),
                    404: _l("页面不存在，或您无权查看。"), 405: _l("不支持该请求方式。"),
                    413: _l("上传的文件太大：单个文件不超过 15 MB，一次提交不超过 60 MB。"),
                    500: _l("系统出错了，请稍后重试；如果问题持续，请联系系统管理员。")}.items():
    bp.app_errorhandler(_code)(_error(_code, _msg))
