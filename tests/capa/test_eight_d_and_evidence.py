"""The optional 8D layout of the same sheet (D1 team, D3 containment per location, D4 causes of
occurrence and of escape, D8 closure), and evidence photos on the sheet with its access rules."""
from __future__ import annotations

import io

from portal.capa.states import Layout, SheetState
from portal.clock import local, utcnow
from tests.capa.conftest import approve, fresh, issue, post, respond_form
from tests.conftest import PASSWORD, jpeg_bytes, signed_in

EIGHT_D = {"team": "赵磊 组长\n陈刚 生产一部负责人\n李强 品保", "root_cause_occurrence": "更衣室发帽缺货",
           "root_cause_escape": "出货前异物抽检未覆盖馅料",
           "c1_location": "成品库", "c1_qty": "1200", "c1_action": "隔离待检",
           "c2_location": "郑州分公司仓库", "c2_qty": "300", "c2_action": "冻结发货"}


def test_eight_d_sheet_asks_for_its_own_fields_and_shows_them(app):
    sheet = issue(layout=Layout.EIGHT_D)
    client, token = signed_in(app, "handler_prod1")
    page = client.get(f"/ca/{sheet.number}").get_data(as_text=True)
    assert "D3 围堵措施（各地点的可疑库存）" in page

    resp = post(client, token, sheet.number, "respond", sheet.version, **respond_form())
    assert resp.status_code == 400
    assert "请补全必填项：D1 小组成员、D4 发生原因、D4 流出原因" in resp.get_data(as_text=True)
    resp = post(client, token, sheet.number, "respond", sheet.version,
                **respond_form(**{**EIGHT_D, "c3_qty": "5"}))
    assert resp.status_code == 400 and "D3 第 3 行请同时填写地点和围堵措施。" in resp.get_data(as_text=True)
    assert fresh(sheet.number).state == SheetState.ISSUED

    resp = post(client, token, sheet.number, "respond", sheet.version, **respond_form(**EIGHT_D))
    assert resp.status_code == 303
    sheet = fresh(sheet.number)
    assert [m["name"] for m in sheet.team] == ["赵磊", "陈刚", "李强"]
    assert sheet.containment == [
        {"location": "成品库", "suspect_qty": 1200, "action": "隔离待检"},
        {"location": "郑州分公司仓库", "suspect_qty": 300, "action": "冻结发货"}]
    approve(sheet)
    quality, qt = signed_in(app, "quality")
    resp = post(quality, qt, sheet.number, "verify", sheet.version, effective="yes", evidence="两周无同类投诉",
                verified_on=local(utcnow()).date().isoformat(), closure_note="表彰包装二线", password=PASSWORD)
    assert resp.status_code == 303
    page = quality.get(f"/ca/{sheet.number}").get_data(as_text=True)
    for text in ("郑州分公司仓库", "可疑数量 300", "出货前异物抽检未覆盖馅料", "表彰包装二线", "8D",
                 "D2 不合格描述", "D5 纠正措施", "D6 效果验证", "D7 预防措施"):
        assert text in page, text


def test_evidence_photo_on_the_answer_follows_the_sheet_access(app):
    sheet = issue()
    client, token = signed_in(app, "handler_prod1")
    data = {"csrf_token": token, "respond-version": str(sheet.version),
            **{f"respond-{k}": v for k, v in respond_form().items()},
            "respond-photos": (io.BytesIO(jpeg_bytes()), "整改后的更衣室.jpg")}
    resp = client.post(f"/ca/{sheet.number}/act/respond", data=data, content_type="multipart/form-data")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    sheet = fresh(sheet.number)
    [photo] = sheet.photos
    assert photo.original_name == "整改后的更衣室.jpg" and photo.case_id is None
    url = f"/ca/{sheet.number}/files/{photo.id}/thumb"
    assert url in client.get(f"/ca/{sheet.number}").get_data(as_text=True)
    resp = client.get(url)
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    other, _t = signed_in(app, "rep_zz")
    assert other.get(url).status_code == 404
