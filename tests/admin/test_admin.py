"""User and organisation administration, as a system administrator does it in the browser."""
import pytest
import sqlalchemy as sa

from portal.errors import ValidationError
from portal.extensions import db
from portal.org import operations as ops
from portal.org.models import User
from portal.signing.audit import verify_chain
from portal.signing.models import AuditEvent
from tests.conftest import do_login, unit, user


def events(action=None):
    q = sa.select(AuditEvent).order_by(AuditEvent.seq)
    if action:
        q = q.where(AuditEvent.action == action)
    return db.session.execute(q).scalars().all()


def user_count():
    return db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one()


@pytest.fixture
def admin(as_user):
    return as_user("admin")


@pytest.fixture
def post(csrf):
    """POST a form the way the browser does, with the session's CSRF token."""
    def _post(client, url, data, **kw):
        token = csrf(client, "/auth/password")
        return client.post(url, data={**data, "csrf_token": token}, **kw)
    return _post


def new_user_form(**overrides):
    data = {"username": "wang_li", "name": "王丽", "unit_id": str(unit("BR-CD").id),
            "roles": ["rep"], "phone": "13900001111", "email": "wangli@example.com",
            "title": "业务主管", "password": "chengdu2026"}
    data.update(overrides)
    return data


def user_form(u, **overrides):
    data = {"name": u.name, "unit_id": str(u.unit_id), "roles": [r.value for r in u.roles],
            "phone": u.phone or "", "email": u.email or "", "title": u.title or "", "password": ""}
    data.update(overrides)
    return data


def unit_form(u, **overrides):
    data = {"name": u.name, "code": u.code, "kind": u.kind.value, "parent_id": str(u.parent_id or "")}
    data.update(overrides)
    return data


# ---------------------------------------------------------------- users

def test_admin_creates_user_who_can_then_log_in(app, admin, post):
    resp = post(admin, "/admin/users/new", new_user_form(username="Wang_Li", roles=["rep", "desk"]))
    assert resp.status_code == 303
    created = user("wang_li")  # stored in lower case: the login compares exactly
    assert created.roles == {"rep", "desk"} and created.unit.code == "BR-CD" and created.active
    assert "王丽" in admin.get(resp.headers["Location"]).get_data(as_text=True)

    assert do_login(app.test_client(), "wang_li", "chengdu2026").status_code == 302
    [event] = events("user_created")
    assert event.actor_id == user("admin").id and event.object_id == created.id
    assert event.after["roles"] == ["desk", "rep"] and "password" not in event.after


def test_duplicate_username_refused_in_chinese_and_nothing_written(app, admin, post):
    before, audit_before = user_count(), len(events())
    resp = post(admin, "/admin/users/new", new_user_form(username="Rep_CD"))
    assert resp.status_code == 400
    assert "用户名「rep_cd」已被使用，请换一个。" in resp.get_data(as_text=True)
    assert user_count() == before and len(events()) == audit_before


def test_new_user_needs_a_role_a_unit_and_a_long_enough_password(app, admin, post):
    resp = post(admin, "/admin/users/new", new_user_form(roles=[], unit_id="", password="short"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "请至少选择一个角色" in html and "请选择所属机构" in html
    with pytest.raises(ValidationError) as exc:
        ops.create_user(user("admin"), new_user_form(password="short"))
    assert exc.value.field_errors == {"password": "密码至少 8 位。"}
    assert db.session.execute(sa.select(User).where(User.username == "wang_li")).first() is None


def test_edit_changes_roles_and_unit_and_is_audited(app, admin, post):
    rep = user("rep_cd")
    resp = post(admin, f"/admin/users/{rep.id}",
                user_form(rep, roles=["rep", "handler"], unit_id=str(unit("BR-ZZ").id), title="组长"))
    assert resp.status_code == 303
    db.session.expire_all()
    rep = user("rep_cd")
    assert rep.roles == {"rep", "handler"} and rep.unit.code == "BR-ZZ" and rep.title == "组长"
    [event] = events("user_updated")
    assert event.before == {"unit_id": unit("BR-CD").id, "roles": ["rep"], "title": None}
    assert event.after == {"unit_id": unit("BR-ZZ").id, "roles": ["handler", "rep"], "title": "组长"}


def test_failed_edit_keeps_nothing(app, admin, post):
    rep = user("rep_cd")
    resp = post(admin, f"/admin/users/{rep.id}", user_form(rep, name="刘洋洋", password="1234"))
    assert resp.status_code == 400 and "密码至少 8 位" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert user("rep_cd").name == "刘洋" and not events("user_updated")


def test_password_reset_by_admin_ends_the_users_sessions(app, admin, as_user, post):
    rep_client = as_user("rep_cd")
    rep = user("rep_cd")
    assert post(admin, f"/admin/users/{rep.id}", user_form(rep, password="newpass2026")).status_code == 303
    assert rep_client.get("/work").status_code == 302
    assert do_login(app.test_client(), "rep_cd", "newpass2026").status_code == 302
    assert events("user_updated")[0].note == "管理员重设了密码"


def test_deactivated_user_is_logged_out_and_cannot_log_in(app, admin, as_user, post):
    rep_client = as_user("rep_cd")
    assert rep_client.get("/work").status_code == 200
    rep = user("rep_cd")

    resp = post(admin, f"/admin/users/{rep.id}/active", {"active": "0"})
    assert resp.status_code == 303
    assert rep_client.get("/work").status_code == 302  # the open session has ended
    assert do_login(app.test_client(), "rep_cd").status_code == 401
    assert [e.after for e in events("user_deactivated")] == [{"active": False}]

    # Reactivated, the user logs in again, but the old session stays dead.
    assert post(admin, f"/admin/users/{rep.id}/active", {"active": "1"}).status_code == 303
    assert rep_client.get("/work").status_code == 302
    assert do_login(app.test_client(), "rep_cd").status_code == 302
    assert len(events("user_reactivated")) == 1


def test_admin_cannot_deactivate_or_demote_themselves(app, admin, post):
    me = user("admin")
    resp = post(admin, f"/admin/users/{me.id}/active", {"active": "0"})
    assert resp.status_code == 400 and "不能停用自己的账号" in resp.get_data(as_text=True)
    resp = post(admin, f"/admin/users/{me.id}", user_form(me, roles=["desk"]))
    assert resp.status_code == 400 and "不能取消自己的系统管理员角色" in resp.get_data(as_text=True)
    db.session.expire_all()
    me = user("admin")
    assert me.active and me.roles == {"admin"}
    assert admin.get("/admin/users").status_code == 200


def test_admin_changing_own_password_stays_logged_in(app, admin, post):
    me = user("admin")
    assert post(admin, f"/admin/users/{me.id}", user_form(me, password="admin-2026!")).status_code == 303
    assert admin.get("/admin/users").status_code == 200


def test_user_list_searches_and_filters_with_one_url(app, admin):
    page = admin.get("/admin/users?q=刘").get_data(as_text=True)
    assert "<html" in page and "rep_cd" in page and "desk" not in page.split('id="user-results"')[1]

    rows = admin.get("/admin/users?q=HANDLER", headers={"HX-Request": "true"})
    html = rows.get_data(as_text=True)
    assert "<html" not in html and "handler_prod1" in html and "handler_prod2" in html
    assert "HX-Request" in rows.headers["Vary"]

    leaders = admin.get("/admin/users?role=leader", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "leader_prod1" in leaders and "ceo" in leaders and "rep_cd" not in leaders

    in_chengdu = admin.get(f"/admin/users?unit={unit('BR-CD').id}",
                           headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "rep_cd" in in_chengdu and "rep_zz" not in in_chengdu

    everyone = admin.get(f"/admin/users?unit={unit('HQ').id}",
                         headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "rep_zz" in everyone and "共 15 人" in everyone  # the whole tree below the company


# ---------------------------------------------------------------- access

def _admin_urls(app):
    """Every URL of the admin blueprint, with real ids, so a new page is covered too."""
    from portal.sla.models import Holiday, SlaPolicy  # time limits and holidays (issue 11)
    ids = {"user_id": user("desk").id, "unit_id": unit("BR-CD").id,
           "policy_id": db.session.execute(sa.select(SlaPolicy.id)).scalars().first(),
           "holiday_id": db.session.execute(sa.select(Holiday.id)).scalars().first()}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            # An id without a record of its own here: the role check comes before the lookup.
            url = rule.build({k: ids.get(k) or 1 for k in rule.arguments}, append_unknown=False)[1]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, url


def test_non_admins_get_403_on_every_admin_url(app, as_user, post):
    urls = list(_admin_urls(app))
    assert len(urls) >= 12
    before, audit_before = user_count(), len(events())
    for username in ("desk", "leader_cs", "quality", "handler_prod1", "leader_prod1", "rep_cd", "ceo"):
        client = as_user(username)
        for method, url in urls:
            resp = client.get(url) if method == "GET" else post(client, url, {"active": "0", **new_user_form()})
            assert resp.status_code == 403, (username, method, url)
    assert user_count() == before and len(events()) == audit_before
    assert user("desk").active


def test_anonymous_visitors_are_sent_to_login(app, client):
    for method, url in _admin_urls(app):
        if method == "GET":
            resp = client.get(url)
            assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"], url


# ---------------------------------------------------------------- units

def test_admin_creates_unit_under_a_branch(app, admin, post):
    resp = post(admin, "/admin/units/new",
                {"name": "成都武侯办事处", "code": "br-cd-wh", "kind": "department",
                 "parent_id": str(unit("BR-CD").id)})
    assert resp.status_code == 303
    office = unit("BR-CD-WH")
    assert office.parent.code == "BR-CD"
    assert events("unit_created")[0].after["code"] == "BR-CD-WH"
    tree = admin.get("/admin/units").get_data(as_text=True).split("<table")[1]
    assert tree.index("成都分公司") < tree.index("成都武侯办事处")


def test_duplicate_unit_code_refused(app, admin, post):
    resp = post(admin, "/admin/units/new", {"name": "质量部", "code": "qa", "kind": "department",
                                            "parent_id": str(unit("HQ").id)})
    assert resp.status_code == 400 and "编码「QA」已被其他机构使用" in resp.get_data(as_text=True)


def test_unit_cannot_move_under_itself_or_below_itself(app, admin, post):
    branch = unit("BR-CD")
    office = ops.create_unit(user("admin"), {"name": "成都武侯办事处", "code": "BR-CD-WH",
                                             "kind": "department", "parent_id": branch.id})
    for target in (office.id, branch.id):
        resp = post(admin, f"/admin/units/{branch.id}", unit_form(branch, parent_id=str(target)))
        assert resp.status_code == 400
        assert "不能把机构移到它自己或它的下级机构之下" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert unit("BR-CD").parent.code == "HQ" and not events("unit_updated")

    # Its own subtree is not even offered as a parent.
    page = admin.get(f"/admin/units/{branch.id}").get_data(as_text=True)
    assert "成都武侯办事处" not in page.split('name="parent_id"')[1].split("</select>")[0]


def test_company_root_has_no_parent_and_there_is_only_one(app):
    me, hq = user("admin"), unit("HQ")
    with pytest.raises(ValidationError, match="公司是组织机构的根"):
        ops.update_unit(me, hq, {"name": hq.name, "code": "HQ", "kind": "company",
                                 "parent_id": unit("QA").id})
    with pytest.raises(ValidationError, match="已有公司根机构"):
        ops.create_unit(me, {"name": "第二公司", "code": "HQ2", "kind": "company", "parent_id": None})
    with pytest.raises(ValidationError, match="请选择上级机构"):
        ops.create_unit(me, {"name": "无上级部门", "code": "LOOSE", "kind": "department", "parent_id": None})


def test_unit_with_active_users_cannot_be_deactivated(app, admin, post):
    branch = unit("BR-CD")
    resp = post(admin, f"/admin/units/{branch.id}/active", {"active": "0"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "「成都分公司」不能停用：还有 1 名在用用户（刘洋），请先把他们调到其他机构或停用" in html
    db.session.expire_all()
    assert unit("BR-CD").active and not events("unit_deactivated")

    # Once its rep has left, it can go; a unit cannot move into it any more.
    assert post(admin, f"/admin/users/{user('rep_cd').id}/active", {"active": "0"}).status_code == 303
    assert post(admin, f"/admin/units/{branch.id}/active", {"active": "0"}).status_code == 303
    db.session.expire_all()
    assert not unit("BR-CD").active
    resp = post(admin, "/admin/users/new", new_user_form(unit_id=str(branch.id)))
    assert resp.status_code == 400 and "请选择在用的所属机构" in resp.get_data(as_text=True)


def test_unit_with_active_sub_units_cannot_be_deactivated(app):
    me, branch = user("admin"), unit("BR-BJ")
    for code, name in (("BR-BJ-HD", "海淀办事处"), ("BR-BJ-CY", "朝阳办事处")):
        ops.create_unit(me, {"name": name, "code": code, "kind": "department", "parent_id": branch.id})
    ops.deactivate_user(me, user("rep_bj"))
    with pytest.raises(ValidationError, match="还有 2 个在用下级机构（朝阳办事处、海淀办事处），请先停用或移走"):
        ops.deactivate_unit(me, branch)
    with pytest.raises(ValidationError, match="公司根机构不能停用"):
        ops.deactivate_unit(me, unit("HQ"))


# ---------------------------------------------------------------- audit

def test_every_admin_change_leaves_an_audit_event(app, admin, post):
    post(admin, "/admin/users/new", new_user_form())
    new = user("wang_li")
    post(admin, f"/admin/users/{new.id}", user_form(new, title="经理"))
    post(admin, f"/admin/users/{new.id}/active", {"active": "0"})
    post(admin, f"/admin/users/{new.id}/active", {"active": "1"})
    post(admin, "/admin/units/new", {"name": "上海分公司", "code": "BR-SH", "kind": "branch",
                                     "parent_id": str(unit("HQ").id)})
    sh = unit("BR-SH")
    post(admin, f"/admin/units/{sh.id}", unit_form(sh, name="上海分公司（筹）"))
    post(admin, f"/admin/units/{sh.id}/active", {"active": "0"})
    post(admin, f"/admin/units/{sh.id}/active", {"active": "1"})
    # Saving an unchanged form changes nothing, so records nothing.
    post(admin, f"/admin/units/{sh.id}", unit_form(unit("BR-SH")))

    got = [(e.action, e.object_type, e.object_id) for e in events()]
    assert got == [("user_created", "user", new.id), ("user_updated", "user", new.id),
                   ("user_deactivated", "user", new.id), ("user_reactivated", "user", new.id),
                   ("unit_created", "org_unit", sh.id), ("unit_updated", "org_unit", sh.id),
                   ("unit_deactivated", "org_unit", sh.id), ("unit_reactivated", "org_unit", sh.id)]
    assert {e.actor_name for e in events()} == {"系统管理员"}
    assert verify_chain()[0]
