"""Case states and steps: who owns each, what may follow it."""
from portal.labels import LabeledEnum, N_
from portal.org.enums import Role
from portal.steps import Step  # noqa: F401  (re-exported: the step keys live in portal/steps.py)


class State(LabeledEnum):
    NEW = "new", N_("待核实")
    INFO_REQUESTED = "info_requested", N_("待补充信息")
    VERIFIED = "verified", N_("待分派")
    REJECTED = "rejected", N_("不予受理")
    INVESTIGATING = "investigating", N_("调查处理中")
    PROPOSED = "proposed", N_("待领导批示")
    APPROVED = "approved", N_("待实施")
    CONFIRMING = "confirming", N_("待回访确认")
    CLOSED = "closed", N_("已结案")


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
