"""The baseline of the list figure: a bare Flask + SQLAlchemy page with the newest 50 cases.

One indexed query on the same `case` table (ix_case_received, the index the portal's list
uses), the same twelve columns, rendered into a plain HTML table by Jinja. No login, session,
CSRF, i18n, HTMX or layout: what any Flask page with 50 rows costs on this machine.
"""
from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, render_template_string

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cases</title></head><body>
<table>
<thead><tr><th>编号</th><th>受理时间</th><th>状态</th><th>类别</th><th>顾客</th><th>电话</th><th>产品</th><th>批号</th><th>时限</th><th>待办</th><th>升级</th></tr></thead>
<tbody>
{% for r in rows %}<tr><td><a href="/cases/{{ r.number }}">{{ r.number }}</a></td><td>{{ r.received_at.strftime('%Y-%m-%d %H:%M') }}</td><td>{{ r.state }}</td><td>{{ r.klass or '' }}</td><td>{{ r.customer_name }}</td><td>{{ r.customer_phone }}</td><td>{{ r.product_name }}</td><td>{{ r.batch_no or '' }}</td><td>{{ r.due_at.strftime('%Y-%m-%d %H:%M') if r.due_at else '' }}</td><td>{{ r.step or '' }}</td><td>{{ r.escalation_level }}</td></tr>
{% endfor %}</tbody></table></body></html>"""

case = sa.table("case", *(sa.column(c) for c in (
    "id", "number", "received_at", "state", "klass", "customer_name", "customer_phone", "product_name",
    "batch_no", "due_at", "step", "escalation_level")))

NEWEST = (sa.select(case.c.id, case.c.number, case.c.received_at, case.c.state, case.c.klass,
                    case.c.customer_name, case.c.customer_phone, case.c.product_name, case.c.batch_no,
                    case.c.due_at, case.c.step, case.c.escalation_level)
          .order_by(case.c.received_at.desc(), case.c.id.desc()).limit(50))


def create_bare_app(database_url: str | None = None) -> Flask:
    url = database_url or os.environ["DATABASE_URL"]
    url = url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    engine = sa.create_engine(url, pool_size=5)
    app = Flask(__name__)

    @app.route("/")
    def newest():
        with engine.connect() as conn:
            rows = conn.execute(NEWEST).all()
        return render_template_string(PAGE, rows=rows)

    return app
