"""The keys time limits are kept under, shared by the case workflow and the time-limit domain
(portal/sla) so that neither imports the other: a case's steps and its case-level clocks."""
from portal.labels import LabeledEnum, N_


class Step(LabeledEnum):
    """The piece of work a case waits for; each has its own time limit (SLA)."""
    VERIFY = "verify", N_("核实")
    SUPPLEMENT = "supplement", N_("补充信息")
    DISPATCH = "dispatch", N_("分派")
    ACKNOWLEDGE = "acknowledge", N_("首次跟进")
    INVESTIGATE = "investigate", N_("调查并提出方案")
    APPROVE = "approve", N_("领导批示")
    IMPLEMENT = "implement", N_("实施方案")
    CALLBACK = "callback", N_("回访顾客")
    SIGN_OFF = "sign_off", N_("领导签字结案")


class Anchor(LabeledEnum):
    """The moment a case clock counts from: receipt (Case.received_at), dispatch to the
    responsible unit (the dispatch transition), closing (Case.closed_at)."""
    RECEIVED = "received", N_("受理")
    DISPATCHED = "dispatched", N_("分派")
    CLOSED = "closed", N_("结案")


class Clock(LabeledEnum):
    """A case-level limit that runs across steps (PROCEDURES.md §4), counted from its anchor.

    `Clock.SOLUTION.anchor` is the case field it starts at; pauses (waiting on the submitter
    or the customer) stop every case clock."""
    PROGRESS_CHECK = "progress_check", N_("跟进进度")      # the desk asks for progress, 1 h after dispatch
    SOLUTION = "solution", N_("方案获顾客接受")            # an accepted solution 4 h after receipt
    RESOLVED = "resolved", N_("问题解决")                  # 24 h after receipt
    SIGNED = "signed", N_("完成并由部门领导签字")          # 48 h after receipt
    ON_SITE = "on_site", N_("设备到场维修")                # equipment: on site within 24 h of dispatch
    REVISIT = "revisit", N_("结案后回访")                  # 7 days after closing

    @property
    def anchor(self) -> Anchor:
        return _ANCHORS[self]


_ANCHORS = {Clock.PROGRESS_CHECK: Anchor.DISPATCHED, Clock.SOLUTION: Anchor.RECEIVED,
            Clock.RESOLVED: Anchor.RECEIVED, Clock.SIGNED: Anchor.RECEIVED,
            Clock.ON_SITE: Anchor.DISPATCHED, Clock.REVISIT: Anchor.CLOSED}
