"""Complaint Portal (客诉处理门户): the application factory."""
from __future__ import annotations

import os

from flask import Flask

from portal.config import Config, _database_url, _secret_key


def create_app(config: type[Config] | dict | None = None, **overrides) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static",
                instance_path=str(__import__("portal.config").config.INSTANCE))
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    app.config.update(overrides)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = _database_url()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key()
    _engine_options(app)
    if app.config.get("PROXY_COUNT"):
        # Behind nginx: trust its X-Forwarded-* so throttling and the audit see the real address.
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from portal.extensions import babel, csrf, db, htmx, login, migrate
    db.init_app(app)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from portal import dbping
        with app.app_context():
            dbping.install(db.engine)  # instead of pool_pre_ping's round trip per request
        from portal import dbreads
        dbreads.init_app(app, db)  # pages read without BEGIN / ROLLBACK
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    from portal.i18n import select_locale
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=os.path.join(os.path.dirname(__file__), "translations"))
    from portal.auth import init_login
    init_login(app, login)

    from portal import models  # noqa: F401 - every table registered before migrations look
    from portal.auth import bp as auth_bp
    from portal.cases.routes import bp as cases_bp
    from portal.batches.routes import bp as batches_bp
    from portal.admin import bp as admin_bp
    from portal.web import bp as web_bp
    from portal.work import bp as work_bp
    from portal.bell import bp as bell_bp
    from portal.auth.profile import bp as profile_bp
    for bp in (auth_bp, cases_bp, batches_bp, admin_bp, work_bp, bell_bp, profile_bp, web_bp):
        app.register_blueprint(bp)
    from portal.clusters.routes import bp as clusters_bp  # issue 12: 批号聚集
    app.register_blueprint(clusters_bp)
    from portal.catalog import bp as catalog_bp  # the product and batch register (issue 12)
    app.register_blueprint(catalog_bp)
    from portal.capa.routes import bp as capa_bp
    app.register_blueprint(capa_bp)
    from portal.capa.pdf_routes import bp as capa_pdf_bp  # /ca/<number>/pdf
    app.register_blueprint(capa_pdf_bp)
    from portal.reports.routes import bp as reports_bp  # issue 13: 统计报表 (the dashboard)
    app.register_blueprint(reports_bp)
    from portal.reports.summary_routes import bp as reports_summary_bp  # 汇总报告 (周报, 月报, 日报)
    app.register_blueprint(reports_summary_bp)
    from portal.reports.history_routes import bp as reports_history_bp  # 历史数据 and 产量
    app.register_blueprint(reports_history_bp)
    from portal.reports.export_routes import bp as reports_export_bp  # the list's CSV/XLSX exports
    app.register_blueprint(reports_export_bp)
    from portal.reports.assessment_routes import bp as reports_assessment_bp  # 考核
    app.register_blueprint(reports_assessment_bp)
    from portal.knowledge.routes import bp as reports_typical_bp  # 典型案例 (the knowledge base)
    app.register_blueprint(reports_typical_bp)
    from portal.customer.routes import bp as customer_bp  # issue 14: the customer's progress page (/p/<token>)
    app.register_blueprint(customer_bp)
    from portal import api  # issue 14: the intake API under /api/v1/ (JSON errors under /api/)
    api.init_app(app)
    from portal.apidocs import bp as apidocs_bp  # issue 14: the integrators' page (/api/docs)
    app.register_blueprint(apidocs_bp)

    from portal import htmx as htmx_helpers, templating, cli, security, static_files
    from portal.cases import present
    htmx_helpers.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    static_files.init_app(app)
    _compression(app)
    present.init_app(app)
    cli.init_app(app)
    from portal.notify import checks
    checks.init_app(app)  # a delivery setting that cannot work refuses to start; `flask check-config`
    from portal.notify import customer
    customer.check_config(app.config)  # H4: customer SMS channels, 催办 cool-down, bell polling
    return app


def _compression(app: Flask) -> None:
    """Pages and fragments go out brotli- or gzip-compressed (a list page is ~100 KB of HTML).

    Small answers are not worth the CPU; level 6 gzip / quality 4 brotli cost well under a
    millisecond for a list page. Static files arrive precompressed (portal/static_files.py)."""
    from flask_compress import Compress
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_LEVEL", 6)
    app.config.setdefault("COMPRESS_BR_LEVEL", 4)
    app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    app.config.setdefault("COMPRESS_MIMETYPES", ["text/html", "application/json"])
    app.config.setdefault("COMPRESS_STREAMS", False)  # file downloads (PDF, photos) stay as they are
    Compress(app)


def _engine_options(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    opts = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        # Writers wait for each other instead of failing with "database is locked".
        opts.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        if not event.contains(Engine, "connect", _sqlite_pragmas):
            event.listen(Engine, "connect", _sqlite_pragmas)
    else:
        opts.setdefault("pool_size", 10)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = opts


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    if type(dbapi_conn).__module__.startswith("sqlite3"):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
