"""Reference data every installation starts with, and the demo organisation."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.batches.models import Batch, Product
from portal.cases.enums import Klass
from portal.cases.models import Approver, Category, CompensationRule
from portal.extensions import db
from portal.org.enums import Role, UnitKind
from portal.org.models import OrgUnit, User
from portal.sla.seed import seed_time_limits

UNITS = [  # code, name, kind, parent code
    ("HQ", "示例食品股份有限公司", UnitKind.COMPANY, None),
    ("CS", "客服中心/800热线", UnitKind.DEPARTMENT, "HQ"),
    ("QA", "品保部", UnitKind.DEPARTMENT, "HQ"),
    ("PROD1", "生产一部", UnitKind.DEPARTMENT, "HQ"),
    ("PROD2", "生产二部", UnitKind.DEPARTMENT, "HQ"),
    ("LOG", "储运部", UnitKind.DEPARTMENT, "HQ"),
    ("MKT", "市场部", UnitKind.DEPARTMENT, "HQ"),
    ("LEGAL", "法务部", UnitKind.DEPARTMENT, "HQ"),
    ("TECH", "技术中心", UnitKind.DEPARTMENT, "HQ"),
    ("BR-CD", "成都分公司", UnitKind.BRANCH, "HQ"),
    ("BR-ZZ", "郑州分公司", UnitKind.BRANCH, "HQ"),
    ("BR-BJ", "北京分公司", UnitKind.BRANCH, "HQ"),
]

CATEGORIES = [  # code, name, children
    ("quality", "产品质量", [("foreign_object", "异物"), ("spoilage", "变质/异味"),
                            ("missing_filling", "无馅/少馅"), ("taste", "口感差"), ("packaging", "包装问题"),
                            ("short_quantity", "数量不足"), ("mixed", "混装"), ("wrong_label", "标签错误"),
                            ("no_date", "无生产日期")]),
    ("service_attitude", "服务态度", []), ("service_skill", "服务技能", []),
    ("parts_supply", "配件供应", []), ("supplier", "供应商", []), ("service_station", "服务站", []),
    ("transport", "运输储存", []), ("contract", "合同及交货", []), ("price", "价格及收费", []),
    ("customer_own", "顾客自身原因", []), ("other", "其他", []),
]

# PROCEDURES.md §7: what the rep/handler may grant without a leader.
COMPENSATION = [
    (Klass.GENERAL, Decimal("2"), Decimal("0"), False, "公司产品 1–2 倍"),
    (Klass.MINOR, Decimal("3"), Decimal("100"), False, "更换；产品 1–3 倍；现金 50–100 元"),
    (Klass.MAJOR, Decimal("10"), Decimal("200"), True, "同量同品或等值；皮中异物 1:5，馅中异物 1:10，另加 100–200 元"),
    (Klass.SERIOUS, None, None, True, "一律报总部领导决定"),
    (Klass.SPECIAL, Decimal("0"), Decimal("0"), True, "恶意投诉，不予补偿"),
    (Klass.SUPERMARKET, Decimal("3"), Decimal("300"), False, "按上述规则或购销合同"),
]

# Whose leader decides beyond those limits: serious complaints go to headquarters (§7).
COMPANY_DECIDES = {Klass.SERIOUS}

PRODUCTS = [("P001", "三鲜水饺", "500g/袋", "PROD1"), ("P002", "猪肉白菜水饺", "1kg/袋", "PROD1"),
            ("P003", "黑芝麻汤圆", "400g/袋", "PROD2"), ("P004", "花生汤圆", "400g/袋", "PROD2"),
            ("P005", "鲜肉粽子", "2只/袋", "PROD2"), ("P006", "手抓饼", "900g/10片", "PROD1"),
            ("P007", "小笼包", "600g/袋", "PROD1"), ("P008", "奶黄包", "360g/袋", "PROD2")]

SHIFTS = ["早班", "中班", "晚班"]
# Where 储运部 shipped each demo batch: the demo branches' provinces, so a cluster of cases
# from several branches is also a batch shipped to several regions.
SHIPPED_TO = [["四川", "河南", "北京"], ["四川"], ["河南", "北京"], ["四川", "重庆"], ["北京", "天津"],
              ["河南"]]

DEMO_USERS = [  # username, name, unit, roles, phone
    ("admin", "系统管理员", "HQ", [Role.ADMIN], "13800000000"),
    ("desk", "张敏", "CS", [Role.DESK], "13800000001"),
    ("leader_cs", "郑华", "CS", [Role.LEADER, Role.DESK], "13800000011"),
    ("quality", "李强", "QA", [Role.QUALITY], "13800000002"),
    ("leader_qa", "王军", "QA", [Role.LEADER, Role.QUALITY], "13800000012"),
    ("handler_prod1", "赵磊", "PROD1", [Role.HANDLER], "13800000003"),
    ("leader_prod1", "陈刚", "PROD1", [Role.LEADER], "13800000013"),
    ("handler_prod2", "钱进", "PROD2", [Role.HANDLER], "13800000004"),
    ("leader_prod2", "冯涛", "PROD2", [Role.LEADER], "13800000014"),
    ("handler_logistics", "孙丽", "LOG", [Role.HANDLER], "13800000005"),
    ("leader_logistics", "褚明", "LOG", [Role.LEADER], "13800000015"),
    ("rep_cd", "刘洋", "BR-CD", [Role.REP], "13800000006"),
    ("rep_zz", "周杰", "BR-ZZ", [Role.REP], "13800000007"),
    ("rep_bj", "吴芳", "BR-BJ", [Role.REP], "13800000008"),
    ("ceo", "林总", "HQ", [Role.LEADER], "13800000009"),
]
DEMO_PASSWORD = "demo1234"


def seed_reference() -> dict[str, OrgUnit]:
    """Units, categories, rules, time limits, products and batches (idempotent by code)."""
    units: dict[str, OrgUnit] = {u.code: u for u in db.session.execute(sa.select(OrgUnit)).scalars()}
    for code, name, kind, parent in UNITS:
        if code not in units:
            units[code] = OrgUnit(code=code, name=name, kind=kind, parent=units.get(parent))
            db.session.add(units[code])
    cats = {c.code: c for c in db.session.execute(sa.select(Category)).scalars()}
    for i, (code, name, children) in enumerate(CATEGORIES):
        root = cats.get(code) or Category(code=code, name=name, sort=i)
        db.session.add(root)
        for j, (ccode, cname) in enumerate(children):
            if f"{code}.{ccode}" not in cats:
                db.session.add(Category(code=f"{code}.{ccode}", name=cname, sort=j, parent=root))
    if not db.session.execute(sa.select(CompensationRule.id)).first():
        for klass, mult, cash, always, note in COMPENSATION:
            db.session.add(CompensationRule(klass=klass, max_multiple=mult, max_cash=cash,
                                            always_needs_approval=always, note=note,
                                            approver=Approver.COMPANY if klass in COMPANY_DECIDES
                                            else Approver.DEPARTMENT))
    seed_time_limits()  # portal/sla/seed.py: every limit of §4 and the holiday calendar
    products = {p.code: p for p in db.session.execute(sa.select(Product)).scalars()}
    for code, name, spec, unit in PRODUCTS:
        if code not in products:
            products[code] = Product(code=code, name=name, spec=spec)
            db.session.add(products[code])
    db.session.flush()
    if not db.session.execute(sa.select(Batch.id)).first():
        start = date(2026, 9, 1)
        for i, (code, name, spec, unit) in enumerate(PRODUCTS):
            for k in range(6):
                day = start + timedelta(days=k * 9 + i)
                db.session.add(Batch(batch_no=f"{day:%Y%m%d}{unit[-1]}{i + 1:02d}{k:02d}",
                                     product=products[code], production_date=day,
                                     production_unit=units[unit], line=f"{k % 3 + 1}号线",
                                     shift=SHIFTS[(i + k) % len(SHIFTS)],
                                     shipped_regions=SHIPPED_TO[k % len(SHIPPED_TO)],
                                     quantity=400_000))
    db.session.flush()
    from portal.escalation.ladder import seed_ladder
    seed_ladder(units)  # PROCEDURES.md §5
    from portal.reports.assessment import seed_penalty_rules
    seed_penalty_rules()  # PROCEDURES.md §9
    return units


def seed_demo() -> bool:
    """The demo organisation with a login for every role; does nothing if users exist."""
    if db.session.execute(sa.select(User.id)).first():
        return False
    units = seed_reference()
    for username, name, unit, roles, phone in DEMO_USERS:
        user = User(username=username, name=name, unit=units[unit], phone=phone,
                    email=f"{username}@example.com", active=True)
        user.set_password(DEMO_PASSWORD)
        user.roles = roles
        db.session.add(user)
    db.session.commit()
    return True
