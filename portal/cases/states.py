"""Case states and steps: who owns each, what may follow it."""
from portal.enums import LabeledEnum, Role


class State(LabeledEnum):
    NEW = "new", "待核实"
    INFO_REQUESTED = "info_requested", "待补充信息"
    VERIFIED = "verified", "待分派"
    REJECTED = "rejected", "不予受理"
    INVESTIGATING = "investigating", "调查处理中"
    PROPOSED = "proposed", "待领导批示"
    APPROVED = "approved", "待实施"
    CONFIRMING = "confirming", "待回访确认"
    CLOSED = "closed", "已结案"


class Step(LabeledEnum):
    """The piece of work a case waits for; each has its own time limit (SLA)."""
    VERIFY = "verify", "核实"
    SUPPLEMENT = "supplement", "补充信息"
    DISPATCH = "dispatch", "分派"
    ACKNOWLEDGE = "acknowledge", "首次跟进"
    INVESTIGATE = "investigate", "调查并提出方案"
    APPROVE = "approve", "领导批示"
    IMPLEMENT = "implement", "实施方案"
    CALLBACK = "callback", "回访顾客"
    SIGN_OFF = "sign_off", "领导签字结案"


# Which roles may act on a step (scope is checked separately).
STEP_ROLES: dict[Step, set[Role]] = {
    Step.VERIFY: {Role.DESK},
    Step.SUPPLEMENT: {Role.REP, Role.DESK},
    Step.DISPATCH: {Role.DESK},
    Step.ACKNOWLEDGE: {Role.HANDLER},
    Step.INVESTIGATE: {Role.HANDLER},
    Step.APPROVE: {Role.LEADER},
    Step.IMPLEMENT: {Role.HANDLER},
    Step.CALLBACK: {Role.DESK, Role.REP},
    Step.SIGN_OFF: {Role.LEADER},
}

OPEN_STATES = {State.NEW, State.INFO_REQUESTED, State.VERIFIED, State.INVESTIGATING,
               State.PROPOSED, State.APPROVED, State.CONFIRMING}
