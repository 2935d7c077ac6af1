"""The case's timeline says what happened in words a user recognises."""
from portal.cases import operations as ops
from portal.cases.enums import Validity
from tests.conftest import make_case, user


def timeline_of(client, case) -> str:
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    return html.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]


def test_malicious_complaint_reads_as_malicious_not_as_unfounded(app, as_user):
    case = make_case()
    ops.verify_case(case, user("desk"), case.version, validity=Validity.MALICIOUS, kind=None, klass=None,
                    category_id=None, reason="无质量问题，顾客要求高额赔偿")
    timeline = timeline_of(as_user("desk"), case)
    assert "核实为恶意投诉，不予受理" in timeline
    assert "核实不成立" not in timeline


def test_unfounded_complaint_still_reads_as_unfounded(app, as_user):
    case = make_case()
    ops.verify_case(case, user("desk"), case.version, validity=Validity.NOT_VALID, kind=None, klass=None,
                    category_id=None, reason="产品在保质期外")
    timeline = timeline_of(as_user("desk"), case)
    assert "核实不成立，不予受理" in timeline and "恶意投诉" not in timeline


def test_malicious_label_in_english(app, as_user):
    case = make_case()
    ops.verify_case(case, user("desk"), case.version, validity=Validity.MALICIOUS, kind=None, klass=None,
                    category_id=None, reason="无质量问题")
    client = as_user("desk")
    client.get("/lang/en")
    assert "Verified as a malicious complaint, not accepted" in timeline_of(client, case)
