"""Bulk generator of realistic complaint history in PostgreSQL (COPY), for the figures.

    python bench/generate.py --database-url postgresql://postgres@127.0.0.1/portal_bench \
        --cases 1000000 --leader-waiting 200

Creates the database if missing, runs the migrations and the demo seed (the documented
`flask --app wsgi db upgrade` / `seed-demo`), adds a few thousand production batches, then
writes N cases received over the last ~3 years. Each case is simulated through the workflow
of DESIGN.md with log-normal step durations, so the state, step, time limit and every
timestamp agree: old cases are closed or rejected, recent ones form the open tail, and a
few are stuck at some step for months. Numbers are KS<year>-<6 digits>, gap-free per year,
and case_counter is set to match, so a real intake afterwards continues the sequence.

No audit events are written for the generated history: the hash chain stays valid (it
starts with the first real transition), and the detail page of a generated case shows an
empty timeline.

--leader-waiting N puts exactly N open cases at step `approve` for 生产一部 (PROD1), and
no other case waits for leader_prod1 (approve or sign-off), so his inbox holds exactly N.
"""
from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import random
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# The application whose migrations and enums are used: the working tree, or the snapshot
# run_all.sh exports (BENCH_APP_ROOT).
APP_ROOT = Path(os.environ.get("BENCH_APP_ROOT", ROOT)).resolve()
sys.path.insert(0, str(APP_ROOT))

from portal.cases.enums import (Channel, CustomerType, Kind, Klass, Responsibility, SettlementForm,
                                Validity)
from portal.cases.models import phone_digits  # noqa: E402
from portal.cases.states import State, Step  # noqa: E402  (values only, no app needed)

HOUR = 3600.0
DAY = 86400.0
SHANGHAI_OFFSET = 8 * HOUR

# ---------------------------------------------------------------- vocabulary

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
            "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
            "龚邵万钱严覃武戴莫孔向汤")
SURNAME_W = [1 / (i + 1) ** 0.8 for i in range(len(SURNAMES))]
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志文玉红梅海燕晓东丹欣怡梓涵子轩浩然"
         "宇雨佳思远博嘉一诺鑫婷雪琳斌辉鹏飞亮成林颖倩玲凤春秋云霞宏波")
MOBILE_PREFIXES = ("130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 "
                   "170 173 175 176 177 178 180 181 182 183 185 186 187 188 189 191 198 199").split()

REGIONS = {  # branch code -> [(province+city, [districts], weight, landline area code)]
    "BR-CD": [("四川省成都市", "武侯区 锦江区 青羊区 金牛区 成华区 高新区 双流区 郫都区 龙泉驿区".split(), 8, "028"),
              ("四川省绵阳市", ["涪城区", "游仙区"], 2, "0816"), ("四川省德阳市", ["旌阳区"], 1, "0838"),
              ("四川省宜宾市", ["翠屏区"], 1, "0831"), ("四川省南充市", ["顺庆区"], 1, "0817"),
              ("重庆市", "渝中区 江北区 南岸区 渝北区 九龙坡区".split(), 4, "023")],
    "BR-ZZ": [("河南省郑州市", "金水区 二七区 中原区 管城回族区 惠济区 郑东新区".split(), 8, "0371"),
              ("河南省洛阳市", ["西工区", "涧西区", "老城区"], 2, "0379"), ("河南省开封市", ["鼓楼区", "龙亭区"], 1, "0371"),
              ("河南省新乡市", ["红旗区", "卫滨区"], 1, "0373"), ("河南省许昌市", ["魏都区"], 1, "0374"),
              ("河南省南阳市", ["卧龙区", "宛城区"], 1, "0377")],
    "BR-BJ": [("北京市", "朝阳区 海淀区 丰台区 东城区 西城区 通州区 昌平区 大兴区".split(), 8, "010"),
              ("天津市", ["南开区", "河西区", "和平区"], 2, "022"), ("河北省石家庄市", ["长安区", "桥西区"], 1, "0311"),
              ("河北省保定市", ["竞秀区"], 1, "0312"), ("河北省廊坊市", ["广阳区"], 1, "0316")],
    None: [("上海市", ["浦东新区", "闵行区", "徐汇区"], 3, "021"), ("广东省广州市", ["天河区", "越秀区"], 2, "020"),
           ("湖北省武汉市", ["洪山区", "江汉区"], 2, "027"), ("陕西省西安市", ["雁塔区", "碑林区"], 1, "029"),
           ("浙江省杭州市", ["西湖区", "拱墅区"], 1, "0571"), ("山东省济南市", ["历下区"], 1, "0531")],
}
ROADS = "人民路 建设路 解放路 中山路 和平路 文化路 新华路 胜利路 花园路 长江路 黄河路 光明路 幸福路 学府路 青年路 工农路 友谊路 朝阳路 东风路 桐梓林路".split()
CHAINS = {
    "BR-CD": "红旗连锁 舞东风超市 伊藤洋华堂 家乐福 沃尔玛 永辉超市 盒马鲜生 互惠超市".split(),
    "BR-ZZ": "丹尼斯 大张超市 世纪联华 家乐福 沃尔玛 永辉超市 胖东来 悦来悦喜".split(),
    "BR-BJ": "物美 超市发 京客隆 家乐福 沃尔玛 永辉超市 盒马鲜生 华联超市".split(),
    None: "大润发 华润万家 家乐福 沃尔玛 永辉超市 联华超市".split(),
}
ONLINE = ["京东到家", "美团买菜", "多多买菜", "天猫超市", "社区团购团长", "小区门口便利店", "农贸市场冷柜"]

# Cause categories (code from portal/seed.py) with their share of complaints.
CATEGORY_W = {
    "quality.foreign_object": 15, "quality.spoilage": 12, "quality.missing_filling": 9, "quality.taste": 8,
    "quality.packaging": 8, "quality.short_quantity": 4, "quality.mixed": 3, "quality.wrong_label": 2,
    "quality.no_date": 2, "service_attitude": 4, "service_skill": 2, "parts_supply": 1, "supplier": 2,
    "service_station": 1, "transport": 9, "contract": 2, "price": 4, "customer_own": 7, "other": 5,
}
OBJECTS = "头发 塑料片 金属丝 小石子 线头 纸屑 不明黑色颗粒 小虫子 木屑 碎骨渣 橡胶圈碎片".split()
DESCRIPTIONS = {
    "quality.foreign_object": ["顾客反映食用{p}时吃出{o}，已保留实物和包装。", "{p}馅中发现{o}，孩子差点吞下，顾客情绪激动。",
                               "煮好的{p}皮上粘有{o}，顾客拍照留存，要求说明原因。", "共煮了一袋{p}，第三个里面发现{o}。"],
    "quality.spoilage": ["{p}开袋后有明显酸味，顾客怀疑已变质。", "{p}解冻后馅料发黏、颜色发灰，有异味。",
                         "{p}表面有霉点，购买时在保质期内。", "食用{p}后家人腹泻，怀疑产品变质。"],
    "quality.missing_filling": ["{p}一袋中有多个无馅。", "{p}馅料明显比以往少，顾客认为偷工减料。", "{p}只有皮没有馅，顾客要求解释。"],
    "quality.taste": ["{p}皮厚发硬，口感比以前差很多。", "{p}偏咸，有哈喇味。", "{p}煮后破皮严重，口感发黏。"],
    "quality.packaging": ["{p}包装袋破损漏气，冰晶很多。", "{p}封口不严，袋内有积水。", "外箱压损，{p}多袋挤破。", "包装印刷模糊，看不清配料表。"],
    "quality.short_quantity": ["{p}标称{s}，实称少约40克。", "{p}袋内数量少于标示。"],
    "quality.mixed": ["{p}袋中混入其他口味的产品。", "{p}中混有不同规格的产品。"],
    "quality.wrong_label": ["{p}标签口味与内容物不符。", "{p}配料表与实际产品不一致。"],
    "quality.no_date": ["{p}包装上无生产日期。", "{p}生产日期模糊无法辨认，顾客担心过期。"],
    "service_attitude": ["顾客反映拨打800热线时接线员态度生硬。", "超市促销员对顾客询问{p}的问题不耐烦。", "业务员上门处理时态度不好。"],
    "service_skill": ["业务员无法解释{p}的储存方法，顾客不满意。", "热线答复前后不一致，顾客多次来电。"],
    "parts_supply": ["经销商反映{p}配套的蘸料包经常缺失。", "礼盒装{p}缺少赠品。"],
    "supplier": ["经销商反映{p}包材供应延迟导致断货。", "{p}外包装供应商印刷错误。"],
    "service_station": ["当地服务站处理{p}退换拖延一周以上。"],
    "transport": ["收货时{p}已解冻再冻结，外箱潮湿。", "冷链车到店温度异常，{p}表面结霜。", "{p}送货延迟两天，门店断货。"],
    "contract": ["经销商反映{p}实际到货数量与合同不符。", "{p}交货日期晚于合同约定。"],
    "price": ["超市{p}标价与结算价不一致。", "{p}促销价格未兑现，顾客要求退差价。"],
    "customer_own": ["顾客将{p}常温放置一天后食用，反映变质。", "顾客用微波炉加热{p}导致破裂，认为质量问题。"],
    "other": ["顾客咨询{p}是否含过敏原并表示不满。", "顾客对{p}涨价表示不满。", "顾客建议{p}增加小包装。"],
}
DEMANDS = [("要求退货并赔偿", 20), ("要求双倍赔偿", 8), ("要求十倍赔偿", 5), ("要求换货", 18), ("要求给出书面说明", 8),
           ("要求公司道歉", 6), ("要求上门处理", 6), ("只希望反映问题，不要求赔偿", 12), ("要求赔偿医药费", 3),
           ("要求退还货款", 14)]
FINDINGS = ["经查同批次留样检验合格，生产记录无异常。", "调取生产线监控，发现当班有员工未按规定佩戴发帽。",
            "同批次另有两起类似投诉，已对该批次抽检。", "储运记录显示该批产品在中转仓停留超时。",
            "经核实属门店冷柜温度不达标。", "检验发现包装机封口温度偏低。", "实物检验确认异物为包装材料碎片。"]
ROOT_CAUSES = ["员工操作不规范", "设备参数漂移未及时校准", "原料验收把关不严", "冷链交接不规范",
               "门店储存条件不符合要求", "顾客储存不当", "包材供应商质量波动"]
SOLUTIONS = {SettlementForm.PRODUCT: "赔偿同品产品{q}袋，并致歉。", SettlementForm.EXCHANGE: "全额免费更换同品产品。",
             SettlementForm.CASH: "现金补偿{c}元，并致歉。", SettlementForm.EXPLANATION: "向顾客解释原因，不予补偿。",
             SettlementForm.FACTORY_DECISION: "产品返厂鉴定后再行处理。", SettlementForm.EXCHANGE_DISCOUNT: "折价更换新品。",
             SettlementForm.THIRD_PARTY: "由承运方向顾客赔偿。"}
IMPLEMENTATIONS = ["业务员已上门送达赔偿产品并致歉。", "已通过快递寄出更换产品，顾客签收。", "已通过微信转账支付补偿款。",
                   "已电话向顾客解释，并寄送检验报告。", "已与门店协调退换。"]
CALLBACK_OK = ["顾客表示满意，感谢及时处理。", "顾客接受处理结果。", "顾客满意，希望以后加强质量管理。"]
CALLBACK_BAD = ["顾客认为赔偿太少，不满意。", "顾客不接受解释，要求进一步处理。", "顾客表示处理太慢，不满意。"]

# Where each cause is dispatched; "prod" means the product's production department.
RESPONSIBLE = {"quality": "prod", "customer_own": "prod", "transport": "LOG", "parts_supply": "LOG",
               "service_attitude": "CS", "service_skill": "MKT", "supplier": "TECH", "service_station": "MKT",
               "contract": "MKT", "price": "MKT", "other": "QA"}
HANDLER_OF = {"PROD1": "handler_prod1", "PROD2": "handler_prod2", "LOG": "handler_logistics"}
PRODUCT_UNIT = {"P001": "PROD1", "P002": "PROD1", "P003": "PROD2", "P004": "PROD2", "P005": "PROD2",
                "P006": "PROD1", "P007": "PROD1", "P008": "PROD2"}
PRODUCT_W = {"P001": 18, "P002": 20, "P003": 12, "P004": 9, "P005": 7, "P006": 10, "P007": 14, "P008": 10}

CHANNEL_W = [(Channel.HOTLINE, 34), (Channel.FIELD, 26), (Channel.WECHAT, 12), (Channel.PHONE, 8), (Channel.STORE, 5),
             (Channel.EMAIL, 3), (Channel.API, 5), (Channel.WALK_IN, 2), (Channel.LETTER, 1), (Channel.FAX, 0.5),
             (Channel.REGULATOR, 1.5), (Channel.MEDIA, 2)]
KLASS_W = [(Klass.GENERAL, 55), (Klass.MINOR, 26), (Klass.MAJOR, 10), (Klass.SERIOUS, 1.5), (Klass.SUPERMARKET, 7.5)]
CUSTOMER_TYPE_W = [(CustomerType.CONSUMER, 88), (CustomerType.DISTRIBUTOR, 5), (CustomerType.SUPERMARKET, 5),
                   (CustomerType.REGULATOR, 1), (CustomerType.MEDIA, 1)]
# Compensation authority per class (portal/seed.py COMPENSATION): (max multiple, max cash, always to leader)
AUTHORITY = {Klass.GENERAL: (2, 0, False), Klass.MINOR: (3, 100, False), Klass.MAJOR: (10, 200, True),
             Klass.SERIOUS: (None, None, True), Klass.SPECIAL: (0, 0, True), Klass.SUPERMARKET: (3, 300, False)}
HOUR_W = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 5, 8, 9, 8.5, 6, 6.5, 8, 8.5, 8, 7, 6, 6, 5.5, 4.5, 3, 1.8]

# Median hours and log-normal sigma of each step of the workflow.
DURATION = {"verify": (0.5, 1.1), "supplement": (20, 0.9), "dispatch": (0.25, 1.0), "acknowledge": (0.3, 1.0),
            "investigate": (22, 0.9), "approve": (3, 1.0), "implement": (26, 0.8), "callback": (8, 1.0),
            "recall": (22, 0.6), "sign_off": (12, 1.0), "reinvestigate": (30, 0.8), "reopen": (240, 0.8)}
STUCK_SHARE = 0.003  # cases that hang at one step for months (the tail the inbox sweeps chase)
STUCK_FACTOR = 400


class Pick:
    """A weighted choice with precomputed cumulative weights (random.choices rebuilds them each call)."""

    def __init__(self, population, weights):
        self.population = list(population)
        self.cum, total = [], 0.0
        for w in weights:
            total += w
            self.cum.append(total)
        self.total = total

    def __call__(self, rng: random.Random):
        return self.population[bisect.bisect_right(self.cum, rng.random() * self.total)]


def weighted(pairs) -> Pick:
    return Pick([p for p, _ in pairs], [w for _, w in pairs])


# ---------------------------------------------------------------- database set-up

def psycopg_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def ensure_database(url: str) -> bool:
    """CREATE DATABASE if missing; True if it was created."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    name = info["dbname"]
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def flask_cmd(url: str, *args: str) -> None:
    """The documented set-up commands, pointed at this database."""
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret"),
           "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"), "TZ": "Asia/Shanghai",
           "PYTHONPATH": str(APP_ROOT), "PORTAL_INSTANCE": str(ROOT / "bench" / "out" / "instance")}
    flask = ROOT / ".venv" / "bin" / "flask"
    subprocess.run([str(flask), "--app", "wsgi", *args], cwd=APP_ROOT, env=env, check=True)


class Ref:
    """Ids of the seeded organisation, catalogue, categories and time limits."""

    def __init__(self, conn):
        self.units = dict(conn.execute("SELECT code, id FROM org_unit"))
        self.users = dict(conn.execute('SELECT username, id FROM "user"'))
        self.products = {code: (pid, name, spec) for code, pid, name, spec in
                         conn.execute("SELECT code, id, name, spec FROM product")}
        self.categories = dict(conn.execute("SELECT code, id FROM category"))
        self.sla = {Step(step): minutes for step, minutes in
                    conn.execute("SELECT step, minutes FROM sla_policy WHERE step IS NOT NULL"
                                 " AND klass IS NULL AND channel IS NULL")}
        missing = [u for u in ("desk", "leader_cs", "rep_cd", "rep_zz", "rep_bj", "leader_prod1") if u not in self.users]
        if missing:
            raise SystemExit(f"demo users missing: {missing}; the database was seeded differently")


# ---------------------------------------------------------------- batches

def generate_batches(conn, ref: Ref, rng: random.Random, target: int, start: date, end: date) -> None:
    """Production batches of every product over the period (a few thousand rows)."""
    existing = {r[0] for r in conn.execute("SELECT batch_no FROM batch")}
    days = (end - start).days
    per_day = target / (days * len(PRODUCT_UNIT))
    rows = []
    for i, code in enumerate(sorted(PRODUCT_UNIT)):
        unit = PRODUCT_UNIT[code]
        pid = ref.products[code][0]
        for d in range(days):
            day = start + timedelta(days=d)
            n = int(per_day) + (rng.random() < per_day - int(per_day))
            for line in rng.sample((1, 2, 3), min(n, 3)):
                # k ≥ 10 never meets the seeded batch numbers (k 0–5)
                no = f"{day:%Y%m%d}{unit[-1]}{i + 1:02d}{10 + line:02d}"
                if no in existing:
                    continue
                existing.add(no)
                rows.append((no, pid, day, ref.units[unit], f"{line}号线", rng.randrange(100_000, 600_001, 1000)))
    with conn.cursor() as cur:
        with cur.copy("COPY batch (batch_no, product_id, production_date, production_unit_id, line, quantity) "
                      "FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    conn.commit()


class BatchIndex:
    """Per product, batches sorted by production date, for 'a batch made some weeks before'."""

    def __init__(self, conn):
        self.by_product: dict[int, tuple[list[float], list[tuple]]] = {}
        rows = conn.execute("SELECT id, batch_no, product_id, production_date FROM batch "
                            "ORDER BY product_id, production_date").fetchall()
        for bid, no, pid, pdate in rows:
            dates, items = self.by_product.setdefault(pid, ([], []))
            dates.append(datetime(pdate.year, pdate.month, pdate.day, tzinfo=timezone.utc).timestamp())
            items.append((bid, no, pdate))

    def pick(self, rng: random.Random, pid: int, received: float):
        if pid not in self.by_product:
            return None
        dates, items = self.by_product[pid]
        lag = min(max(2.0, rng.lognormvariate(math.log(35), 0.7)), 300.0)
        i = bisect.bisect_right(dates, received - lag * DAY) - 1
        return items[i] if i >= 0 else None


# ---------------------------------------------------------------- the cases

COLUMNS = (
    "id number version received_at channel kind registered_by_id branch_id customer_name customer_phone "
    "customer_phone_digits customer_phone_rev "
    "customer_address region customer_type product_id product_name product_spec batch_no batch_id "
    "production_date quantity purchase_place purchase_date description demand urgent threatens_media klass "
    "category_id validity validity_reason info_request info_reply state step step_unit_id step_user_id "
    "step_started_at due_at callback_rejections suggested_unit_id responsible_unit_id responsible_user_id "
    "acknowledged_at findings root_cause responsibility responsibility_note solution_form solution_text "
    "comp_product_qty comp_multiple comp_cash needs_approval approval_reasons proposed_at decision_comment "
    "implementation_text implemented_at callback_reached callback_satisfied score_quality score_speed "
    "score_attitude score_info score_safety callback_comment callback_at callback_count closed_at reopen_count "
    "created_at updated_at").split()
TIME_COLUMNS = {"received_at", "step_started_at", "due_at", "acknowledged_at", "proposed_at", "implemented_at",
                "callback_at", "closed_at", "created_at", "updated_at"}
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def ts(x: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(x))


def _text(v) -> str:
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False).translate(_ESCAPE)
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, str):  # enums are str too: their value
        return v.translate(_ESCAPE)
    return str(v)


CONVERTERS = [ts if c in TIME_COLUMNS else _text for c in COLUMNS]


def copy_line(r: dict) -> str:
    return "\t".join(["\\N" if v is None else f(v) for f, v in zip(CONVERTERS, [r[c] for c in COLUMNS])])


class Stop(Exception):
    """The simulated case has reached `now`: it is open where it stands."""


class Simulation:
    """Walks one case through the workflow until it closes or reaches `now`."""

    def __init__(self, g: "Generator", r: dict, stuck_at: str | None):
        self.g, self.r, self.now, self.rng = g, r, g.now, g.rng
        self.t = r["received_at"]
        self.stuck_at = stuck_at
        self.version = 1

    def wait(self, stage: str, hours: float | None = None) -> None:
        if hours is None:
            median, sigma = DURATION[stage]
            hours = self.rng.lognormvariate(math.log(median), sigma)
        if stage == self.stuck_at:
            hours *= STUCK_FACTOR
        t = self.t + hours * HOUR
        if t > self.now:
            raise Stop
        self.t = t
        self.version += 1

    def enter(self, state: State, step: Step | None, unit=None, user=None) -> None:
        r = self.r
        r["state"], r["step"], r["step_unit_id"], r["step_user_id"] = state, step, unit, user
        r["step_started_at"] = self.t if step else None


class Generator:
    def __init__(self, ref: Ref, batches: BatchIndex, rng: random.Random, now: float):
        self.ref, self.batches, self.rng, self.now = ref, batches, rng, now
        self.channels = weighted(CHANNEL_W)
        self.klasses = weighted(KLASS_W)
        self.customer_types = weighted(CUSTOMER_TYPE_W)
        self.demands = weighted(DEMANDS)
        self.categories = Pick(CATEGORY_W, CATEGORY_W.values())
        self.products = Pick(PRODUCT_W, PRODUCT_W.values())
        self.branch_codes = Pick(["BR-CD", "BR-ZZ", "BR-BJ", None], [35, 33, 24, 8])
        self.surnames = Pick(SURNAMES, SURNAME_W)
        self.rep_of = {"BR-CD": "rep_cd", "BR-ZZ": "rep_zz", "BR-BJ": "rep_bj"}
        self.regions = {b: Pick([(name, districts, area) for name, districts, _, area in rows],
                                [w for *_, w, _ in rows]) for b, rows in REGIONS.items()}
        self.scores_ok = Pick((5, 4, 3, 2), (55, 32, 10, 3))
        self.scores_bad = Pick((3, 2, 1), (40, 40, 20))
        self.recent_customers: list[tuple] = []
        self.prod1 = ref.units["PROD1"]

    # -- the customer and the product, as registered at intake

    def customer(self, branch: str | None) -> tuple:
        rng = self.rng
        if self.recent_customers and rng.random() < 0.06:  # a repeat complainant
            return rng.choice(self.recent_customers)
        surname = self.surnames(rng)
        roll = rng.random()
        if roll < 0.12:
            name = surname + ("女士" if rng.random() < 0.55 else "先生")
        elif roll < 0.55:
            name = surname + rng.choice(GIVEN)
        else:
            name = surname + rng.choice(GIVEN) + rng.choice(GIVEN)
        region, districts, area = self.regions[branch](rng)
        district = rng.choice(districts)
        if rng.random() < 0.88:
            phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        else:
            phone = f"{area}-{rng.randrange(2, 9)}{rng.randrange(10**7):07d}"
        address = None
        if rng.random() < 0.7:
            address = f"{district}{rng.choice(ROADS)}{rng.randrange(1, 400)}号"
            if rng.random() < 0.6:
                address += f"{rng.randrange(1, 30)}栋{rng.randrange(1, 6)}单元{rng.randrange(1, 33)}0{rng.randrange(1, 5)}"
        cust = (name, phone, address, region + district)
        if len(self.recent_customers) < 20000:
            self.recent_customers.append(cust)
        else:
            self.recent_customers[rng.randrange(20000)] = cust
        return cust

    def case(self, number: str, received: float, force_leader: bool) -> dict:
        rng, ref = self.rng, self.ref
        channel = self.channels(rng)
        if channel == Channel.FIELD:
            branch = rng.choice(["BR-CD", "BR-ZZ", "BR-BJ"])
            registered_by = ref.users[self.rep_of[branch]]
        else:
            branch = self.branch_codes(rng)
            registered_by = ref.users["desk" if rng.random() < 0.9 else "leader_cs"]
        name, phone, address, region = self.customer(branch)
        category = self.categories(rng)
        product = self.products(rng)
        if force_leader:
            category = rng.choice(["quality.foreign_object", "quality.spoilage", "quality.missing_filling"])
            product = rng.choice([c for c, u in PRODUCT_UNIT.items() if u == "PROD1"])
        pid, pname, pspec = ref.products[product]
        root = category.split(".")[0]
        quality = root == "quality"
        batch = None
        batch_no = None
        if rng.random() < (0.78 if quality else 0.35):
            batch = self.batches.pick(rng, pid, received)
            if batch is not None and rng.random() < 0.08:  # a misread number: not in the register
                batch_no, batch = batch[1][:-2] + f"{rng.randrange(40, 99)}", None
            elif batch is not None:
                batch_no = batch[1]
        desc = rng.choice(DESCRIPTIONS[category]).format(p=pname, o=rng.choice(OBJECTS), s=pspec or "")
        customer_type = self.customer_types(rng)
        branch_id = ref.units[branch] if branch else None
        purchase_place = None
        if rng.random() < 0.75:
            if rng.random() < 0.8:
                purchase_place = f"{rng.choice(CHAINS[branch])}（{region[-3:]}店）"
            else:
                purchase_place = rng.choice(ONLINE)
        r = {
            "number": number, "received_at": received, "channel": channel, "kind": Kind.COMPLAINT,
            "registered_by_id": registered_by, "branch_id": branch_id,
            "customer_name": name, "customer_phone": phone, "customer_address": address, "region": region,
            # COPY bypasses the model, which fills these at intake (phone search by its last digits).
            "customer_phone_digits": phone_digits(phone), "customer_phone_rev": phone_digits(phone)[::-1] or None,
            "customer_type": customer_type, "product_id": pid, "product_name": pname, "product_spec": pspec,
            "batch_no": batch_no, "batch_id": batch[0] if batch else None,
            "production_date": batch[2] if batch else None, "quantity": rng.choice((1, 1, 1, 1, 2, 2, 3, 5, 10)),
            "purchase_place": purchase_place,
            "purchase_date": (datetime.fromtimestamp(received - rng.randrange(0, 30) * DAY, timezone.utc).date()
                              if rng.random() < 0.6 else None),
            "description": desc, "demand": self.demands(rng) if rng.random() < 0.85 else None,
            "urgent": rng.random() < 0.04, "threatens_media": rng.random() < (0.02 if not force_leader else 0.1),
            "klass": None, "category_id": None, "validity": Validity.PENDING, "validity_reason": None,
            "info_request": None, "info_reply": None, "state": State.NEW, "step": Step.VERIFY,
            "step_unit_id": None, "step_user_id": None, "step_started_at": received, "due_at": None,
            "callback_rejections": 0,
            "suggested_unit_id": ref.units[PRODUCT_UNIT[product]] if batch else None,
            "responsible_unit_id": None, "responsible_user_id": None, "acknowledged_at": None,
            "findings": None, "root_cause": None, "responsibility": None, "responsibility_note": None,
            "solution_form": None, "solution_text": None, "comp_product_qty": None, "comp_multiple": None,
            "comp_cash": None, "needs_approval": False, "approval_reasons": None, "proposed_at": None,
            "decision_comment": None, "implementation_text": None, "implemented_at": None,
            "callback_reached": None, "callback_satisfied": None, "score_quality": None, "score_speed": None,
            "score_attitude": None, "score_info": None, "score_safety": None, "callback_comment": None,
            "callback_at": None, "callback_count": 0, "closed_at": None, "reopen_count": 0,
            "created_at": received, "updated_at": received,
        }
        ctx = {"category": category, "root": root, "product": product, "customer_type": customer_type}
        if force_leader:
            self._to_leader(r, ctx)
        else:
            for _ in range(20):  # leader_prod1's inbox must hold exactly the forced cases
                attempt = dict(r)
                sim = self._simulate(attempt, ctx)
                if not (attempt["step"] in (Step.APPROVE, Step.SIGN_OFF) and attempt["step_unit_id"] == self.prod1):
                    break
            r = attempt
            r["version"] = sim.version
            r["updated_at"] = sim.t
        step = r["step"]
        r["due_at"] = r["step_started_at"] + ref.sla[step] * 60 if step else None
        return r

    # -- the workflow

    def _simulate(self, r: dict, ctx: dict) -> Simulation:
        rng, ref = self.rng, self.ref
        stuck = None
        if rng.random() < STUCK_SHARE:
            stuck = rng.choice(["verify", "supplement", "dispatch", "acknowledge", "investigate", "approve",
                                "implement", "callback", "sign_off"])
        sim = Simulation(self, r, stuck)
        try:
            if rng.random() < 0.05:  # the desk asks the submitter for more information
                sim.wait("verify")
                r["info_request"] = "请补充产品包装正面照片和生产批号。"
                sim.enter(State.INFO_REQUESTED, Step.SUPPLEMENT, user=r["registered_by_id"])
                sim.wait("supplement")
                r["info_reply"] = "已补充包装照片，批号见包装背面。"
                sim.enter(State.NEW, Step.VERIFY)
            sim.wait("verify")
            self._verify(r, ctx, sim)
            if r["state"] == State.REJECTED:
                return sim
            sim.wait("dispatch")
            self._dispatch(r, ctx, sim)
            sim.wait("acknowledge")
            self._acknowledge(r, sim)
            self._resolve(r, ctx, sim)
            sim.wait("sign_off")
            r["closed_at"] = sim.t
            sim.enter(State.CLOSED, None)
            if rng.random() < 0.004:  # a repeat complaint reopens it
                sim.wait("reopen")
                r["reopen_count"] = 1
                r["closed_at"] = None
                r["callback_satisfied"] = None
                sim.enter(State.INVESTIGATING, Step.INVESTIGATE, r["responsible_unit_id"], r["responsible_user_id"])
                self._resolve(r, ctx, sim)
                sim.wait("sign_off")
                r["closed_at"] = sim.t
                sim.enter(State.CLOSED, None)
        except Stop:
            pass
        return sim

    def _verify(self, r, ctx, sim) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.065 or (ctx["root"] == "customer_own" and roll < 0.35):
            r["validity"] = Validity.NOT_VALID
            r["validity_reason"] = "经核实，问题系储存或使用不当所致，不属于产品质量问题。"
        elif roll < 0.073:
            r["validity"] = Validity.MALICIOUS
            r["klass"] = Klass.SPECIAL
            r["validity_reason"] = "经核实，顾客多次以同样理由索赔，属恶意投诉。"
        if r["validity"] != Validity.PENDING:
            r["closed_at"] = sim.t
            sim.enter(State.REJECTED, None)
            return
        r["validity"] = Validity.VALID
        r["kind"] = Kind.GRIEVANCE if rng.random() < 0.15 else Kind.COMPLAINT
        klass = self.klasses(rng)
        if ctx["customer_type"] == CustomerType.SUPERMARKET and rng.random() < 0.7:
            klass = Klass.SUPERMARKET
        r["klass"] = klass
        r["category_id"] = self.ref.categories[ctx["category"]]
        sim.enter(State.VERIFIED, Step.DISPATCH)

    def _dispatch(self, r, ctx, sim) -> None:
        target = RESPONSIBLE[ctx["root"]]
        unit_code = PRODUCT_UNIT[ctx["product"]] if target == "prod" else target
        if ctx["category"] == "quality.packaging" and self.rng.random() < 0.3:
            unit_code = "TECH"
        ctx["unit_code"] = unit_code
        unit = self.ref.units[unit_code]
        handler = self.ref.users.get(HANDLER_OF.get(unit_code, ""))
        person = handler if handler and self.rng.random() < 0.4 else None
        r["responsible_unit_id"], r["responsible_user_id"] = unit, person
        sim.enter(State.INVESTIGATING, Step.ACKNOWLEDGE, unit, person)

    def _acknowledge(self, r, sim) -> None:
        r["acknowledged_at"] = sim.t
        handler = self.ref.users.get(HANDLER_OF.get(self._unit_code(r), ""))
        r["responsible_user_id"] = r["responsible_user_id"] or handler
        sim.enter(State.INVESTIGATING, Step.INVESTIGATE, r["responsible_unit_id"], r["step_user_id"])

    def _unit_code(self, r) -> str:
        for code, uid in self.ref.units.items():
            if uid == r["responsible_unit_id"]:
                return code
        return ""

    def _propose(self, r, ctx, sim, force_approval: bool = False) -> None:
        rng = self.rng
        root = ctx["root"]
        r["findings"] = rng.choice(FINDINGS)
        r["root_cause"] = rng.choice(ROOT_CAUSES)
        if root == "customer_own":
            resp = Responsibility.CUSTOMER
        elif root in ("transport", "parts_supply"):
            resp = Responsibility.DEPARTMENT
        elif root == "supplier":
            resp = Responsibility.SUPPLIER
        else:
            resp = rng.choices([Responsibility.DEPARTMENT, Responsibility.PERSON, Responsibility.SUPPLIER,
                                Responsibility.NONE], [60, 15, 10, 15])[0]
        r["responsibility"] = resp
        r["responsibility_note"] = None
        if root in ("quality", "transport"):
            form = rng.choices([SettlementForm.PRODUCT, SettlementForm.EXCHANGE, SettlementForm.CASH,
                                SettlementForm.EXPLANATION, SettlementForm.FACTORY_DECISION,
                                SettlementForm.THIRD_PARTY], [40, 25, 15, 10, 5, 5])[0]
        elif root == "price":
            form = SettlementForm.CASH
        else:
            form = rng.choice([SettlementForm.EXPLANATION, SettlementForm.EXCHANGE_DISCOUNT, SettlementForm.PRODUCT])
        qty = multiple = cash = None
        klass = r["klass"]
        if form == SettlementForm.PRODUCT:
            qty = rng.choice((1, 2, 2, 3, 5))
            multiple = rng.choice((1, 2, 2, 3, 5, 10) if klass in (Klass.MAJOR, Klass.SERIOUS) else (1, 1, 2, 2, 3))
        elif form == SettlementForm.CASH:
            cash = rng.choice((50, 80, 100, 100, 150, 200, 300, 500))
        r["solution_form"] = form
        r["solution_text"] = SOLUTIONS.get(form, "按处理方式执行。").format(q=qty or 1, c=cash or 0)
        r["comp_product_qty"], r["comp_multiple"], r["comp_cash"] = qty, multiple, cash
        reasons = self._approval_reasons(r, multiple, cash)
        if force_approval and not reasons:
            reasons = ["主要类投诉须经部门领导批示"]
        r["needs_approval"] = bool(reasons)
        r["approval_reasons"] = reasons or None
        r["proposed_at"] = sim.t
        r["decision_comment"] = None
        if reasons:
            sim.enter(State.PROPOSED, Step.APPROVE, r["responsible_unit_id"])
        else:
            sim.enter(State.APPROVED, Step.IMPLEMENT, r["responsible_unit_id"], r["responsible_user_id"])

    @staticmethod
    def _approval_reasons(r, multiple, cash) -> list[str]:
        """The same reasons portal/cases/compensation.py gives, in its words."""
        klass = r["klass"]
        label = klass._zh
        reasons = []
        if klass in (Klass.MAJOR, Klass.SERIOUS):
            reasons.append(f"{label}类投诉须经部门领导批示")
        if r["threatens_media"]:
            reasons.append("顾客声称将向职能部门或媒体反映，须经领导决定")
        max_multiple, max_cash, always = AUTHORITY[klass]
        if always and klass not in (Klass.MAJOR, Klass.SERIOUS):
            reasons.append(f"{label}类：规则要求领导批示")
        if multiple and max_multiple is not None and multiple > max_multiple:
            reasons.append(f"产品赔偿倍数 1:{multiple} 超过{label}类上限 1:{max_multiple}")
        if cash and (max_cash is None or cash > max_cash):
            limit = f"{max_cash} 元" if max_cash is not None else "不允许现金"
            reasons.append(f"现金补偿 {cash:.2f} 元超过{label}类权限（{limit}）")
        return reasons

    def _resolve(self, r, ctx, sim) -> None:
        """Investigate → propose → (approve) → implement → call back, until the customer is satisfied."""
        rng = self.rng
        for attempt in range(3):
            sim.wait("investigate" if attempt == 0 and r["callback_rejections"] == 0 else "reinvestigate")
            self._propose(r, ctx, sim)
            if r["step"] == Step.APPROVE:
                sim.wait("approve")
                if rng.random() < 0.07:
                    r["decision_comment"] = "补偿标准偏高，请重新核定后再报。"
                    sim.enter(State.INVESTIGATING, Step.INVESTIGATE, r["responsible_unit_id"], r["responsible_user_id"])
                    continue
                r["decision_comment"] = rng.choice(["同意。", "同意，尽快落实。", "同意，注意安抚顾客情绪。", None])
                sim.enter(State.APPROVED, Step.IMPLEMENT, r["responsible_unit_id"], r["responsible_user_id"])
            sim.wait("implement")
            r["implementation_text"] = rng.choice(IMPLEMENTATIONS)
            r["implemented_at"] = sim.t
            sim.enter(State.CONFIRMING, Step.CALLBACK, r["branch_id"])
            while rng.random() < 0.15:  # not reached; tried again later, step unchanged
                sim.wait("callback")
                r["callback_reached"], r["callback_at"] = False, sim.t
                r["callback_count"] += 1
                r["callback_comment"] = "电话无人接听。"
            sim.wait("callback" if r["callback_count"] == 0 else "recall")
            r["callback_reached"], r["callback_at"] = True, sim.t
            r["callback_count"] += 1
            satisfied = rng.random() < (0.92 if attempt == 0 else 0.97)
            r["callback_satisfied"] = satisfied
            if satisfied:
                for key in ("score_quality", "score_speed", "score_attitude", "score_info", "score_safety"):
                    r[key] = self.scores_ok(rng)
                r["callback_comment"] = rng.choice(CALLBACK_OK)
                sim.enter(State.CONFIRMING, Step.SIGN_OFF, r["responsible_unit_id"])
                return
            for key in ("score_quality", "score_speed", "score_attitude", "score_info", "score_safety"):
                r[key] = self.scores_bad(rng)
            r["callback_comment"] = rng.choice(CALLBACK_BAD)
            r["callback_rejections"] += 1
            sim.enter(State.INVESTIGATING, Step.INVESTIGATE, r["responsible_unit_id"], r["responsible_user_id"])
        # Third time unsatisfied: the leader signs it off anyway with the record of it.
        sim.enter(State.CONFIRMING, Step.SIGN_OFF, r["responsible_unit_id"])

    def _to_leader(self, r, ctx) -> None:
        """A case now waiting for 生产一部's leader to approve (批示) the proposal."""
        rng = self.rng
        age = self.now - r["received_at"]
        sim = Simulation(self, r, None)
        marks = sorted(rng.uniform(0.02, 0.98) for _ in range(4))
        steps = iter(marks)
        sim.t = r["received_at"] + next(steps) * age
        r["validity"], r["kind"], r["klass"] = Validity.VALID, Kind.COMPLAINT, Klass.MAJOR
        r["category_id"] = self.ref.categories[ctx["category"]]
        sim.t = r["received_at"] + next(steps) * age
        r["responsible_unit_id"] = self.prod1
        r["responsible_user_id"] = self.ref.users["handler_prod1"]
        sim.t = r["received_at"] + next(steps) * age
        r["acknowledged_at"] = sim.t
        sim.t = r["received_at"] + next(steps) * age
        self._propose(r, ctx, sim, force_approval=True)
        r["version"] = 5
        r["updated_at"] = sim.t


def received_times(rng: random.Random, n: int, now: float, years: float) -> list[float]:
    """N arrival times: growing volume, weekly and festival peaks, office-hours heavy."""
    days = int(years * 365.25)
    today_local = math.floor((now + SHANGHAI_OFFSET) / DAY)
    first = today_local - days + 1
    weights = []
    for i in range(days):
        d = date.fromordinal(date(1970, 1, 1).toordinal() + first + i)
        w = 1.0 + 0.45 * i / days  # the business grows
        if d.weekday() >= 5:
            w *= 0.8
        doy = d.timetuple().tm_yday
        if doy <= 50 or doy >= 355:  # Spring Festival: dumplings and tangyuan
            w *= 1.5
        elif 150 <= doy <= 175:  # Dragon Boat Festival: zongzi
            w *= 1.2
        elif 190 <= doy <= 240:  # summer: spoilage in transport
            w *= 1.15
        weights.append(w)
    day_idx = rng.choices(range(days), weights, k=n)
    hours = rng.choices(range(24), HOUR_W, k=n)
    out = []
    for d, h in zip(day_idx, hours):
        local_midnight_utc = (first + d) * DAY - SHANGHAI_OFFSET
        t = local_midnight_utc + h * HOUR + rng.random() * HOUR
        if t > now - 60:
            t = now - 60 - rng.random() * 6 * HOUR
        out.append(float(int(t)))
    out.sort()
    return out


def shanghai_year(t: float) -> int:
    return time.gmtime(t + SHANGHAI_OFFSET).tm_year


# ---------------------------------------------------------------- orchestration

def case_indexes(conn) -> list[tuple[str, str]]:
    """Plain indexes of "case" (not those behind the primary key or unique constraints)."""
    return conn.execute("""
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relname = 'case' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
        ORDER BY i.relname""").fetchall()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL",
                                                             "postgresql://postgres@127.0.0.1/portal_bench"))
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--leader-waiting", type=int, default=200,
                    help="open cases waiting at step approve for 生产一部 (leader_prod1)")
    ap.add_argument("--batches", type=int, default=4000, help="production batches to add (approximate)")
    ap.add_argument("--years", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--replace", action="store_true",
                    help="delete existing cases (and their events, files, messages) first")
    ap.add_argument("--chunk", type=int, default=50_000)
    ap.add_argument("--if-missing", action="store_true",
                    help="do nothing (exit 0) if the database already holds cases")
    ap.add_argument("--setup-only", action="store_true",
                    help="create, migrate and seed the database; generate nothing")
    args = ap.parse_args(argv)

    url = psycopg_url(args.database_url)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    created = ensure_database(url)
    print(f"database {'created' if created else 'exists'}: {psycopg.conninfo.conninfo_to_dict(url)['dbname']}")
    flask_cmd(url, "db", "upgrade")
    flask_cmd(url, "seed-demo")
    timings["setup (migrate + seed)"] = time.perf_counter() - t0
    if args.setup_only:
        return 0

    rng = random.Random(args.seed)
    now = time.time()
    with psycopg.connect(url) as conn:
        existing = conn.execute('SELECT count(*) FROM "case"').fetchone()[0]
        if existing and not args.replace:
            if args.if_missing:
                print(f"{existing:,} cases already present; nothing generated")
                return 0
            print(f"{existing} cases already present; use --replace to regenerate", file=sys.stderr)
            return 2
        if existing:
            conn.execute('TRUNCATE "case", attachment, audit_event, signature, outbox_message, case_counter')
            conn.commit()
        ref = Ref(conn)

        t = time.perf_counter()
        start_day = datetime.fromtimestamp(now - (args.years * 365.25 + 200) * DAY, timezone.utc).date()
        end_day = datetime.fromtimestamp(now, timezone.utc).date()
        # Generated batch numbers end in 11–13 (line + 10); the seeded ones in 00–05.
        if not conn.execute("SELECT 1 FROM batch WHERE right(batch_no, 2) >= '10' LIMIT 1").fetchone():
            generate_batches(conn, ref, rng, args.batches, start_day, end_day)
        batches = BatchIndex(conn)
        timings["batches"] = time.perf_counter() - t
        n_batches = conn.execute("SELECT count(*) FROM batch").fetchone()[0]

        t = time.perf_counter()
        times = received_times(rng, args.cases, now, args.years)
        # The leader's waiting cases: recent ones (last 10 days), spread at random.
        recent = [i for i in range(len(times) - 1, -1, -1) if times[i] > now - 10 * DAY]
        if len(recent) < args.leader_waiting:
            recent = list(range(max(0, len(times) - args.leader_waiting * 5), len(times)))
        forced = set(rng.sample(recent, min(args.leader_waiting, len(recent))))

        indexes = case_indexes(conn)
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET session_replication_role = replica")  # no FK triggers during COPY: ids come from Ref
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        gen = Generator(ref, batches, rng, now)
        counters: dict[int, int] = {}
        states: dict[str, int] = {}
        cols = ", ".join(COLUMNS)
        with conn.cursor() as cur:
            with cur.copy(f'COPY "case" ({cols}) FROM STDIN') as copy:
                buf = []
                for i, received in enumerate(times):
                    year = shanghai_year(received)
                    counters[year] = counters.get(year, 0) + 1
                    r = gen.case(f"KS{year}-{counters[year]:06d}", received, i in forced)
                    r["id"] = i + 1
                    states[r["state"].value] = states.get(r["state"].value, 0) + 1
                    buf.append(copy_line(r))
                    if len(buf) >= args.chunk:
                        copy.write("\n".join(buf) + "\n")
                        buf.clear()
                        done = i + 1
                        print(f"  {done:>9,} cases  {time.perf_counter() - t:6.1f} s", flush=True)
                if buf:
                    copy.write("\n".join(buf) + "\n")
        conn.execute("SET session_replication_role = origin")
        timings["cases (generate + COPY)"] = time.perf_counter() - t

        t = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")
        for _, ddl in indexes:
            conn.execute(ddl)
        conn.execute("SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), %s)", (max(len(times), 1),))
        for year, last in counters.items():
            conn.execute("INSERT INTO case_counter (year, last) VALUES (%s, %s) "
                         "ON CONFLICT (year) DO UPDATE SET last = EXCLUDED.last", (year, last))
        conn.commit()
        timings["indexes"] = time.perf_counter() - t

        # Foreign keys were not checked during COPY: check them once, in one pass.
        t = time.perf_counter()
        bad = conn.execute("""
            SELECT count(*) FROM "case" c
            WHERE (c.branch_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM org_unit u WHERE u.id = c.branch_id))
               OR NOT EXISTS (SELECT 1 FROM "user" u WHERE u.id = c.registered_by_id)
               OR (c.batch_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM batch b WHERE b.id = c.batch_id))
               OR (c.category_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM category k WHERE k.id = c.category_id))
               OR (c.responsible_unit_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM org_unit u WHERE u.id = c.responsible_unit_id))
               OR (c.step_user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "user" u WHERE u.id = c.step_user_id))
            """).fetchone()[0]
        if bad:
            raise SystemExit(f"{bad} generated cases point at missing rows")
        timings["foreign-key check"] = time.perf_counter() - t

    t = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('VACUUM ANALYZE "case"')
        conn.execute("ANALYZE")
        waiting = conn.execute("""SELECT count(*) FROM "case" c JOIN org_unit u ON u.id = c.step_unit_id
                                  WHERE u.code = 'PROD1' AND c.step IN ('approve', 'sign_off')""").fetchone()[0]
        open_n = conn.execute("SELECT count(*) FROM \"case\" WHERE step IS NOT NULL").fetchone()[0]
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('\"case\"')), "
                            "pg_size_pretty(pg_database_size(current_database()))").fetchone()
    timings["vacuum analyze"] = time.perf_counter() - t
    t = time.perf_counter()
    flask_cmd(url, "reports", "rollup")  # COPY passed the ORM: the dashboard's rollup from the cases
    timings["dashboard rollup"] = time.perf_counter() - t
    t = time.perf_counter()
    flask_cmd(url, "search-reindex")  # and the search index (portal/search), 5 min at 1M
    timings["search index"] = time.perf_counter() - t
    total = time.perf_counter() - t0

    print(f"\n{args.cases:,} cases, {n_batches:,} batches; open {open_n:,}; "
          f"waiting for leader_prod1: {waiting}; numbers per year: "
          + ", ".join(f"{y}: {n:,}" for y, n in sorted(counters.items())))
    print("states: " + ", ".join(f"{k} {v:,}" for k, v in sorted(states.items(), key=lambda kv: -kv[1])))
    print(f"case table with indexes: {size[0]}; database: {size[1]}")
    for k, v in timings.items():
        print(f"  {k:<28} {v:8.1f} s")
    print(f"  {'total':<28} {total:8.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
