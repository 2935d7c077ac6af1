"""Figure: workflow transition POSTs at 1M cases, every transition of operations.TRANSITIONS.

    python bench/transition_bench.py --database-url postgresql://postgres@127.0.0.1/portal_bench

Registers K fresh cases through the intake operation (in-process, desk, hotline; a batch of
a 生产二部 product), then walks each through the whole workflow over HTTP, as the step
panels post it (htmx: HX-Request, the response is the refreshed case body):

  request_info → supply_info → verify (major) → trace_batch → dispatch (生产二部) →
  acknowledge → propose → reject (password) → propose → approve (password) → implement →
  callback (satisfied) → sign_off (password) → reopen

as desk, quality, handler_prod2 and leader_prod2 — never 生产一部, so leader_prod1's
inbox keeps its 200 cases. The record's version is read from the database before each POST
(not timed). Reports per transition and overall: loopback round trip and `Server-Timing`.
A second, smaller pass posts without htmx (303 redirect, no re-render) to separate the
transition itself from re-rendering the case body. The password check every signature
makes (deliberately slow hash) is timed on its own in-process with User.check_password.
Target (issue 3): p95 ≤ 80 ms server time for any transition POST.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import psycopg

import benchlib as B
from list_bench import parse_config

ROUTE = [  # action, actor, fields (the prefix is added), multipart with an empty photo field
    ("request_info", "desk", {"question": "请补充产品包装正面照片和生产批号。"}, False),
    ("supply_info", "desk", {"reply": "顾客已补充包装照片，批号见包装背面。"}, True),
    ("verify", "desk", {"validity": "valid", "kind": "complaint", "klass": "major", "category_id": "{cat}",
                        "reason": ""}, False),
    ("trace_batch", "quality", {}, False),
    ("dispatch", "desk", {"unit_id": "{unit}", "user_id": "", "note": "请生产二部调查处理。"}, False),
    ("acknowledge", "handler_prod2", {"note": "已电话联系顾客，约定上门取样。"}, False),
    ("propose", "handler_prod2", {"findings": "同批次留样检验合格，当班有员工未按规定佩戴发帽。",
                                  "root_cause": "员工操作不规范", "responsibility": "department",
                                  "responsibility_note": "", "solution_form": "product",
                                  "solution_text": "赔偿同品产品 5 袋并致歉。", "product_qty": "5",
                                  "multiple": "5", "cash": ""}, False),
    ("reject", "leader_prod2", {"comment": "补偿标准偏高，请重新核定后再报。", "password": B.PASSWORD}, False),
    ("propose", "handler_prod2", {"findings": "同批次留样检验合格，当班有员工未按规定佩戴发帽。",
                                  "root_cause": "员工操作不规范", "responsibility": "department",
                                  "responsibility_note": "", "solution_form": "product",
                                  "solution_text": "赔偿同品产品 3 袋并致歉。", "product_qty": "3",
                                  "multiple": "3", "cash": "100"}, False),
    ("approve", "leader_prod2", {"comment": "同意，尽快落实。", "password": B.PASSWORD}, False),
    ("implement", "handler_prod2", {"text": "业务员已上门送达赔偿产品并致歉。"}, True),
    ("callback", "desk", {"reached": "yes", "satisfied": "yes", "score_quality": "5", "score_speed": "4",
                          "score_attitude": "5", "score_info": "5", "score_safety": "5",
                          "comment": "顾客表示满意。"}, False),
    ("sign_off", "leader_prod2", {"comment": "同意结案。", "password": B.PASSWORD}, False),
    ("reopen", "desk", {"reason": "顾客再次来电，反映同样问题。"}, False),
]
PANEL_OF = {"reject": "approve"}  # as portal/cases/panels.py: reject posts the approve panel's form


def prepare_cases(db_url: str, count: int) -> tuple[list[str], dict]:
    """K new cases at step verify, registered by the desk through the intake operation."""
    B.use_app_root()
    os.environ["DATABASE_URL"] = B.sa_url(db_url)
    import sqlalchemy as sa
    from portal import create_app
    from portal.batches.models import Batch, Product
    from portal.cases import operations
    from portal.cases.models import Category
    from portal.cases.enums import Channel, CustomerType
    from portal.extensions import db
    from portal.org.models import OrgUnit, User

    app = create_app()
    numbers = []
    with app.app_context():
        desk = db.session.execute(sa.select(User).where(User.username == "desk")).unique().scalar_one()
        prod2 = db.session.execute(sa.select(OrgUnit).where(OrgUnit.code == "PROD2")).scalar_one()
        branch = db.session.execute(sa.select(OrgUnit).where(OrgUnit.code == "BR-CD")).scalar_one()
        batch = db.session.execute(sa.select(Batch).where(Batch.production_unit_id == prod2.id)
                                   .order_by(Batch.production_date.desc()).limit(1)).scalar_one()
        product = db.session.get(Product, batch.product_id)
        cat = db.session.execute(sa.select(Category).where(Category.code == "quality.foreign_object")).scalar_one()
        for i in range(count):
            case = operations.register_case(desk, {
                "customer_name": "王女士", "customer_phone": f"1390000{i:04d}", "customer_address": "成都市武侯区人民南路",
                "region": "四川省成都市武侯区", "customer_type": CustomerType.CONSUMER, "product_id": product.id,
                "product_name": product.name, "product_spec": product.spec, "batch_no": batch.batch_no,
                "production_date": None, "quantity": 2, "purchase_place": "红旗连锁（武侯店）", "purchase_date": None,
                "description": "顾客反映水饺馅中吃出头发，已保留实物。", "demand": "要求退货并赔偿",
                "urgent": False, "threatens_media": False}, [], channel=Channel.HOTLINE, branch_id=branch.id)
            numbers.append(case.number)
        info = {"cat": str(cat.id), "unit": str(prod2.id)}
    return numbers, info


def password_check_cost(username: str = "leader_prod2", repeat: int = 10) -> dict:
    """The re-authentication every signature makes, timed alone with the app's own
    User.check_password on the stored hash (after the bench's login, which may have
    upgraded an older hash)."""
    import sqlalchemy as sa
    from portal import create_app
    from portal.extensions import db
    from portal.org.models import User
    app = create_app()
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.username == username)).unique().scalar_one()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            assert user.check_password(B.PASSWORD)
            times.append(time.perf_counter() - t)
        method = user.password_hash.split("$", 2)[1 if user.password_hash.startswith("$") else 0]
        return {"method": method, **B.summary_ms(times)}


def walk(clients: dict, conn, numbers: list[str], info: dict, htmx: bool, samples: dict, deadline: float) -> int:
    posts = 0
    for number in numbers:
        for action, actor, fields, multipart in ROUTE:
            if time.monotonic() > deadline:
                return posts
            c, csrf = clients[actor]
            version = conn.execute('SELECT version FROM "case" WHERE number = %s', (number,)).fetchone()[0]
            prefix = PANEL_OF.get(action, action)
            form = [("csrf_token", csrf), (f"{prefix}-version", str(version))]
            form += [(f"{prefix}-{k}", v.format(**info)) for k, v in fields.items()]
            headers = {"HX-Request": "true"} if htmx else {}
            path = f"/cases/{number}/act/{action}"
            if multipart:
                r = c.post_multipart(path, form, [(f"{prefix}-photos", "", b"", "application/octet-stream")], headers)
            else:
                r = c.post_form(path, form, headers)
            ok = (r.status == 200 and "work-changed" in r.headers.get("hx-trigger", "")) if htmx else r.status == 303
            if not ok:
                raise RuntimeError(f"{action} on {number} as {actor}: HTTP {r.status}\n{r.text[:800]}")
            samples.setdefault(action, []).append((r.seconds, r.server_ms / 1000, r.server_cpu_ms / 1000))
            posts += 1
    return posts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=B.DEFAULT_DB)
    ap.add_argument("--config", default="sync:3")
    ap.add_argument("--cases", type=int, default=30, help="cases walked with htmx (14 POSTs each)")
    ap.add_argument("--plain-cases", type=int, default=10, help="cases walked without htmx")
    ap.add_argument("--warmup-cases", type=int, default=4,
                    help="unmeasured walks first, so every gunicorn worker has rendered every panel once")
    ap.add_argument("--max-seconds", type=float, default=300, help="upper bound on each measured pass")
    args = ap.parse_args(argv)

    cfg = parse_config(args.config)
    result = {"machine": B.machine_conditions(), "server": str(cfg), "args": vars(args)}
    total = args.warmup_cases + args.cases + args.plain_cases
    t = time.perf_counter()
    numbers, info = prepare_cases(args.database_url, total)
    result["prepare_seconds"] = time.perf_counter() - t
    print(f"prepared {total} cases in {result['prepare_seconds']:.1f} s", flush=True)
    warm, hx, plain = (numbers[:args.warmup_cases], numbers[args.warmup_cases:args.warmup_cases + args.cases],
                       numbers[args.warmup_cases + args.cases:])
    dbn = B.db_name(args.database_url)
    with B.gunicorn("serve:portal_app()", args.database_url, cfg) as (base, proc), \
            psycopg.connect(B.pg_url(args.database_url), autocommit=True) as conn:
        clients = {}
        for user in {a for _, a, _, _ in ROUTE}:
            c = B.Client(base).login(user)
            clients[user] = (c, B.csrf_from(c.get("/work").text))
        walk(clients, conn, warm, info, True, {}, time.monotonic() + args.max_seconds)
        passes = {}
        for name, nums, htmx in (("htmx", hx, True), ("plain", plain, False)):
            samples: dict = {}
            with B.CpuWatch(lambda: B.worker_pids(proc) + B.postgres_pids(dbn)) as watch:
                posts = walk(clients, conn, nums, info, htmx, samples, time.monotonic() + args.max_seconds)
            per = {a: {"client": B.summary_ms([s[0] for s in v]), "server": B.summary_ms([s[1] for s in v]),
                       "server_cpu": B.summary_ms([s[2] for s in v])} for a, v in samples.items()}
            everything = [s for v in samples.values() for s in v]
            passes[name] = {"posts": posts, "per_action": per, "cpu": watch.result,
                            "all": {"client": B.summary_ms([s[0] for s in everything]),
                                    "server": B.summary_ms([s[1] for s in everything]),
                                    "server_cpu": B.summary_ms([s[2] for s in everything])}}
            a = passes[name]["all"]
            print(f"  {name}: {posts} POSTs, all transitions: client p50 {a['client']['p50']:.1f} "
                  f"p95 {a['client']['p95']:.1f} | server p50 {a['server']['p50']:.1f} "
                  f"p95 {a['server']['p95']:.1f} p99 {a['server']['p99']:.1f} ms | others "
                  f"{watch.result['others_cores']:.2f} cores", flush=True)
            for action, v in per.items():
                print(f"    {action:<13} n={v['server']['n']:<3} server p50 {v['server']['p50']:6.1f} "
                      f"p95 {v['server']['p95']:6.1f} ms | cpu p50 {v['server_cpu']['p50']:6.1f} "
                      f"p95 {v['server_cpu']['p95']:6.1f} ms | client p95 {v['client']['p95']:6.1f} ms", flush=True)
        result["passes"] = passes
    pw = password_check_cost()
    result["scrypt"] = pw  # key kept for summarize.py: the password check, whatever the hash
    result["password_method"] = pw["method"]
    print(f"  password check alone ({pw['method']}): p50 {pw['p50']:.1f} p95 {pw['p95']:.1f} ms", flush=True)
    B.save_json("transition.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
