"""The cause tree and the compensation rules, kept by a system administrator in the browser
(PROCEDURES.md §6–7): refused in Chinese with nothing saved, audited, and what a rep or
handler sees next follows the change."""
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.cases.compensation import assess
from portal.cases.enums import Klass
from portal.cases.models import Category, CompensationRule
from portal.extensions import db
from portal.signing.audit import verify_chain
from portal.signing.models import AuditEvent
from tests.conftest import category, count, footprint, make_case_at, post_step, signed_in


@pytest.fixture
def admin(app):
    return signed_in(app, "admin")


def post(admin, url, **data):
    client, token = admin
    return client.post(url, data={"csrf_token": token, **data})


def seen_on(admin, url) -> str:
    html = admin[0].get(url).get_data(as_text=True)
    return re.search(r'name="seen"[^>]*value="([0-9a-f]+)"', html).group(1)


def last_event():
    return db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()


def fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def rule(klass, cat=None):
    q = sa.select(CompensationRule).where(CompensationRule.klass == klass)
    q = q.where(CompensationRule.category_id == cat.id) if cat else q.where(CompensationRule.category_id.is_(None))
    return db.session.execute(q).scalar_one_or_none()


def verify_options(app) -> str:
    """The cause categories a desk user is offered when verifying a case."""
    case = make_case_at("new")
    client, _ = signed_in(app, "desk")
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    m = re.search(r'<select[^>]*name="verify-category_id"[^>]*>(.*?)</select>', html, re.S)
    return m.group(1)


# ---------------------------------------------------------------- the cause tree

def test_admin_adds_kinds_of_foreign_object_under_product_quality(app, admin):
    quality = category("quality")
    assert "馅中异物" not in verify_options(app)  # the case page has drawn (and kept) the options
    resp = post(admin, "/admin/categories/new", name="馅中异物", code="filling_foreign",
                parent_id=str(quality.id), sort="20")
    assert resp.status_code == 303
    added = category("quality.filling_foreign")
    assert (added.name, added.parent_id, added.sort, added.active) == ("馅中异物", quality.id, 20, True)
    e = last_event()
    assert (e.action, e.object_type, e.object_id, e.after["name"]) == ("category_created", "category", added.id, "馅中异物")
    assert "产品质量 / 馅中异物" in verify_options(app)  # at once, not a minute later
    page = admin[0].get("/admin/categories").get_data(as_text=True)
    assert "馅中异物" in page and "quality.filling_foreign" in page


@pytest.mark.parametrize("fields, message", [
    ({"name": "", "code": "x1"}, "此项为必填项"),
    ({"name": "异物", "code": "foreign2", "parent": "quality"}, "同一上级下已有同名分类"),
    ({"name": "新问题", "code": "foreign_object", "parent": "quality"}, "编码 quality.foreign_object 已被使用"),
    ({"name": "新问题", "code": "Bad Code!"}, "编码只能用小写字母"),
    ({"name": "新问题", "code": "deep", "parent": "quality.taste"}, "只能放在一级分类下"),
    ({"name": "新问题", "code": "n1", "sort": "abc"}, "请输入整数"),
    ({"name": "新问题", "code": "n2", "parent_id": "999999"}, "上级分类不存在"),
])
def test_bad_category_is_refused_in_chinese_and_nothing_saved(app, admin, fields, message):
    before = count(Category), count(AuditEvent)
    data = {"sort": "0", **fields}
    if "parent" in data:
        data["parent_id"] = str(category(data.pop("parent")).id)
    resp = post(admin, "/admin/categories/new", **data)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert (count(Category), count(AuditEvent)) == before


def test_rename_and_move_keep_the_code_and_the_cases(app, admin):
    case = make_case_at("verified")  # filed under 产品质量 / 异物
    foreign = case.category
    service = category("service_attitude")
    url = f"/admin/categories/{foreign.id}"
    resp = post(admin, url, name="异物（含毛发）", parent_id=str(service.id), sort="3", seen=seen_on(admin, url))
    assert resp.status_code == 303
    moved = fresh(Category, foreign.id)
    assert (moved.name, moved.parent_id, moved.code) == ("异物（含毛发）", service.id, "quality.foreign_object")
    assert last_event().before["parent_id"] == category("quality").id
    page = admin[0].get(f"/cases/{case.number}").get_data(as_text=True)
    assert "服务态度 / 异物（含毛发）" in page


def test_a_cause_with_kinds_cannot_move_under_another(app, admin):
    quality, other = category("quality"), category("other")
    url = f"/admin/categories/{quality.id}"
    resp = post(admin, url, name="产品质量", parent_id=str(other.id), sort="0", seen=seen_on(admin, url))
    assert resp.status_code == 400
    assert "该分类有下级分类，只能作为一级分类" in resp.get_data(as_text=True)
    assert fresh(Category, quality.id).parent_id is None


def test_two_admins_editing_one_category_the_second_sees_a_conflict(app, admin):
    taste = category("quality.taste")
    url = f"/admin/categories/{taste.id}"
    first_seen = seen_on(admin, url)
    other = signed_in(app, "admin")
    assert post(other, url, name="口感差（偏咸偏淡）", parent_id=str(taste.parent_id), sort="3",
                seen=seen_on(other, url)).status_code == 303
    resp = post(admin, url, name="口味不佳", parent_id=str(taste.parent_id), sort="3", seen=first_seen)
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "另一位管理员刚刚修改了这条记录" in html and 'value="口感差（偏咸偏淡）"' in html
    assert fresh(Category, taste.id).name == "口感差（偏咸偏淡）"


def test_a_category_in_use_is_never_deleted_only_deactivated(app, admin):
    case = make_case_at("verified")
    foreign = case.category
    resp = post(admin, f"/admin/categories/{foreign.id}/delete")
    assert resp.status_code == 400
    assert "正在使用（1 件投诉" in resp.get_data(as_text=True)
    assert fresh(Category, foreign.id) is not None

    assert post(admin, f"/admin/categories/{foreign.id}/active", active="0").status_code == 303
    assert fresh(Category, foreign.id).active is False
    assert last_event().action == "category_deactivated"
    assert "异物" not in verify_options(app)  # no longer offered
    assert "产品质量 / 异物" in admin[0].get(f"/cases/{case.number}").get_data(as_text=True)

    # An unused kind may go for good.
    post(admin, "/admin/categories/new", name="冰晶过多", code="ice", parent_id=str(category("quality").id), sort="9")
    ice_id = category("quality.ice").id
    assert post(admin, f"/admin/categories/{ice_id}/delete").status_code == 303
    assert fresh(Category, ice_id) is None and last_event().action == "category_deleted"
    assert verify_chain()[0]


def test_a_deactivated_category_is_refused_when_a_case_is_verified(app, admin):
    """Not offered in the verify form, and refused by the operation itself (any caller)."""
    from portal.cases import operations as ops
    from portal.cases.enums import Kind, Validity
    from portal.errors import ValidationError
    from tests.conftest import user
    foreign = category("quality.foreign_object")
    case = make_case_at("new")
    client, token = signed_in(app, "desk")
    assert post(admin, f"/admin/categories/{foreign.id}/active", active="0").status_code == 303
    before = footprint(case)
    resp = post_step(client, token, case, "verify", validity="valid", kind="complaint", klass="major",
                     category_id=str(foreign.id))
    assert resp.status_code == 400 and footprint(case) == before
    with pytest.raises(ValidationError, match="原因分类「产品质量 / 异物」已停用，请选择其他分类。"):
        ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                        klass=Klass.MAJOR, category_id=foreign.id)
    db.session.rollback()
    assert footprint(case) == before


def test_a_kind_cannot_be_reactivated_under_a_deactivated_cause(app, admin):
    quality, taste = category("quality"), category("quality.taste")
    post(admin, f"/admin/categories/{taste.id}/active", active="0")
    post(admin, f"/admin/categories/{quality.id}/active", active="0")
    resp = post(admin, f"/admin/categories/{taste.id}/active", active="1")
    assert resp.status_code == 400 and "上级分类「产品质量」已停用" in resp.get_data(as_text=True)
    assert fresh(Category, taste.id).active is False


def test_only_an_admin_reaches_the_reference_pages(app):
    client, token = signed_in(app, "quality")
    for url in ("/admin/categories", "/admin/rules", "/admin/rules/new", "/admin/categories/new"):
        assert client.get(url).status_code == 403, url
    before = count(Category)
    client.post("/admin/categories/new", data={"csrf_token": token, "name": "x", "code": "x"})
    assert count(Category) == before


# ---------------------------------------------------------------- compensation rules

def test_foreign_object_in_the_filling_1_10_in_the_skin_1_5(app, admin):
    """§7: per kind of defect. The major class's default stays; each kind gets its own limit."""
    quality = category("quality")
    for name, code in (("皮中异物", "skin_foreign"), ("馅中异物", "filling_foreign")):
        post(admin, "/admin/categories/new", name=name, code=code, parent_id=str(quality.id), sort="0")
    skin, filling = category("quality.skin_foreign"), category("quality.filling_foreign")
    for cat, multiple in ((skin, "5"), (filling, "10")):
        resp = post(admin, "/admin/rules/new", klass="major", category_id=str(cat.id), max_multiple=multiple,
                    max_cash="200", approver="department", note=f"异物 1:{multiple}")
        assert resp.status_code == 303
        assert last_event().action == "compensation_rule_created"
    skin_8 = assess(Klass.MAJOR, fresh(Category, skin.id), threatens_media=False, multiple=Decimal("8"), cash=None)
    filling_8 = assess(Klass.MAJOR, fresh(Category, filling.id), threatens_media=False, multiple=Decimal("8"), cash=None)
    over = [r["code"] for r in skin_8.reasons]
    assert "multiple_over_limit" in over
    assert "multiple_over_limit" not in [r["code"] for r in filling_8.reasons]
    page = admin[0].get("/admin/rules").get_data(as_text=True)
    assert "产品质量 / 皮中异物" in page
    for limit in ("1:5", "1:10", "200 元"):
        assert f'class="num">{limit}</td>' in page, limit


def test_admin_raises_the_minor_cash_limit_and_the_next_proposal_follows(app, admin):
    minor = rule(Klass.MINOR)
    assert assess(Klass.MINOR, None, threatens_media=False, multiple=None, cash=Decimal("150")).reasons
    url = f"/admin/rules/{minor.id}"
    resp = post(admin, url, klass="minor", category_id="", max_multiple="3", max_cash="200",
                approver="department", note="更换；产品 1–3 倍；现金至 200 元", seen=seen_on(admin, url))
    assert resp.status_code == 303
    assert fresh(CompensationRule, minor.id).max_cash == Decimal("200")
    e = last_event()
    assert (e.action, e.before["max_cash"], e.after["max_cash"]) == ("compensation_rule_changed", "100", "200")
    assert not assess(Klass.MINOR, None, threatens_media=False, multiple=None, cash=Decimal("150")).reasons


@pytest.mark.parametrize("fields, message", [
    ({"klass": ""}, "此项为必填项"),
    ({"max_multiple": "abc"}, "产品倍数上限须是数字"),
    ({"max_multiple": "-1"}, "产品倍数上限须在 0 到 100 之间"),
    ({"max_cash": "12.345"}, "现金上限最多两位小数"),
    ({"max_cash": "NaN"}, "现金上限须在 0 到 1000000 之间"),
    ({"category_id": "999999"}, "原因分类不存在"),
    ({"category_id": ""}, "主要类已有默认规则（任何原因）"),
])
def test_bad_rule_is_refused_in_chinese_and_nothing_saved(app, admin, fields, message):
    data = {"klass": "major", "category_id": str(category("quality.taste").id), "max_multiple": "2",
            "max_cash": "100", "approver": "department", "note": "", **fields}
    before = count(CompensationRule), count(AuditEvent)
    resp = post(admin, "/admin/rules/new", **data)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert (count(CompensationRule), count(AuditEvent)) == before


def test_stale_rule_form_is_a_conflict_and_changes_nothing(app, admin):
    general = rule(Klass.GENERAL)
    url = f"/admin/rules/{general.id}"
    stale = seen_on(admin, url)
    post(admin, url, klass="general", category_id="", max_multiple="2", max_cash="50", approver="department",
         note="", seen=stale)
    resp = post(admin, url, klass="general", category_id="", max_multiple="4", max_cash="0",
                approver="company", note="", seen=stale)
    assert resp.status_code == 409 and "另一位管理员刚刚修改了这条记录" in resp.get_data(as_text=True)
    r = fresh(CompensationRule, general.id)
    assert (r.max_multiple, r.max_cash, r.approver.value) == (Decimal("2"), Decimal("50"), "department")
    resp = post(admin, f"{url}/delete", seen=stale)
    assert resp.status_code == 409 and fresh(CompensationRule, general.id) is not None


def test_deleting_a_kinds_rule_falls_back_to_the_class_default(app, admin):
    taste = category("quality.taste")
    post(admin, "/admin/rules/new", klass="general", category_id=str(taste.id), max_multiple="1",
         max_cash="", approver="department", note="")
    specific = rule(Klass.GENERAL, taste)
    assert assess(Klass.GENERAL, taste, threatens_media=False, multiple=Decimal("2"), cash=None).reasons
    url = f"/admin/rules/{specific.id}"
    assert post(admin, f"{url}/delete", seen=seen_on(admin, url)).status_code == 303
    assert rule(Klass.GENERAL, taste) is None and last_event().action == "compensation_rule_deleted"
    assert not assess(Klass.GENERAL, fresh(Category, taste.id), threatens_media=False,
                      multiple=Decimal("2"), cash=None).reasons


def test_reference_pages_in_english(app, admin):
    client, _ = admin
    client.get("/lang/en")
    for url in ("/admin/categories", "/admin/rules", "/admin/rules/new", "/admin/categories/new",
                f"/admin/categories/{category('quality').id}", f"/admin/rules/{rule(Klass.MAJOR).id}"):
        html = client.get(url).get_data(as_text=True)
        heading = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)
        assert re.match(r"[A-Z][a-z]", heading.strip()), (url, heading)  # the words; a name may follow
        assert "Cause category" in html and "Compensation rules" in html
