"""The case's audit events as a readable timeline."""
import sqlalchemy as sa

from portal import dbreads
from portal.extensions import db
from portal.labels import N_
from portal.signing.models import AuditEvent, Signature

ACTION_LABELS = {
    "registered": N_("登记受理"), "verified": N_("核实成立"), "rejected": N_("核实不成立，不予受理"),
    "info_requested": N_("要求补充信息"), "info_supplied": N_("补充了信息"), "batch_traced": N_("批号追溯"),
    "dispatched": N_("分派责任部门"), "redispatched": N_("改派责任部门"), "batch_assigned": N_("人工指定生产部门"),
    "trace_corrected": N_("更正批号追溯结果"),  # quality names another department than the register's
    "acknowledged": N_("首次跟进"), "proposed": N_("提出处理方案"),
    "approved": N_("领导批准"), "proposal_rejected": N_("领导驳回方案"), "implemented": N_("方案已实施"),
    "callback_unreached": N_("回访未联系上"), "callback_satisfied": N_("回访：顾客满意"),
    "callback_unsatisfied": N_("回访：顾客不满意，退回重新处理"), "signed_off": N_("领导签字结案"),
    "reopened": N_("重新打开"), "signed": N_("电子签名"), "settled_on_spot": N_("业务员现场处理"),
    "rejected_malicious": N_("核实为恶意投诉，不予受理"),
    # The clock acting on its own (portal/escalation): a breach action per policy.
    "handed_to_leader": N_("超时转交部门领导"), "sent_back_at_breach": N_("超时退回"),
    "escalated": N_("升级"), "escalated_by_hand": N_("手动升级"),
    "hurry": N_("催办"),  # H4: portal/cases/hurry.py
    "files_added": N_("补充了附件"),  # issue 14: files an integration sent (portal/api/operations.py)
    # Issue 14: the customer on their progress page (portal/customer), and their link.
    "customer_rated": N_("顾客评价处理结果"), "customer_appealed": N_("顾客申诉，退回客服重新处理"),
    "customer_link_regenerated": N_("重新生成顾客进度链接"),
}


def event_label(event) -> str:
    """The timeline's words for an event (a Chinese msgid). Verification records one action,
    "rejected", for both refusals; a malicious complaint must not read as merely unfounded."""
    if event.action == "rejected" and (event.after or {}).get("validity") == "malicious":
        return ACTION_LABELS["rejected_malicious"]
    return ACTION_LABELS.get(event.action, event.action)


_CASE_EVENTS = (sa.select(AuditEvent.id, AuditEvent.seq, AuditEvent.at, AuditEvent.actor_name, AuditEvent.action,
                          AuditEvent.after, AuditEvent.note)
                .where(AuditEvent.case_id == sa.bindparam("case_id"), AuditEvent.action != "signed")
                .order_by(AuditEvent.seq))


def case_events(case_id: int) -> list:
    """The case's timeline, oldest first: rows of what it shows (seq, at, actor_name, action,
    after, note), not AuditEvent objects; every case page reads them."""
    return dbreads.rows(_CASE_EVENTS, {"case_id": case_id})


def case_signatures(case_id: int):
    return db.session.execute(
        sa.select(Signature).where(Signature.case_id == case_id).order_by(Signature.signed_at)).scalars().all()
