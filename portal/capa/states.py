"""Sheet states: whom each waits for, and what may follow it."""
from portal.labels import LabeledEnum, N_
from portal.org.enums import Role


class SheetState(LabeledEnum):
    ISSUED = "issued", N_("待部门回复")
    RESPONDED = "responded", N_("待部门领导批准")
    APPROVED = "approved", N_("待品保验证")
    RETURNED = "returned", N_("退回整改")
    CLOSED = "closed", N_("已关闭")


class Layout(LabeledEnum):
    STANDARD = "standard", N_("标准格式")
    EIGHT_D = "8d", N_("8D 格式")


# The role each open state waits for; the unit is the receiving department except at
# verification, which is quality's.
WAITS_FOR: dict[SheetState, Role] = {
    SheetState.ISSUED: Role.HANDLER,
    SheetState.RETURNED: Role.HANDLER,
    SheetState.RESPONDED: Role.LEADER,
    SheetState.APPROVED: Role.QUALITY,
}

MOVES: dict[SheetState, set[SheetState]] = {
    SheetState.ISSUED: {SheetState.RESPONDED},
    SheetState.RETURNED: {SheetState.RESPONDED},
    SheetState.RESPONDED: {SheetState.APPROVED, SheetState.RETURNED},
    SheetState.APPROVED: {SheetState.CLOSED, SheetState.RETURNED},
    SheetState.CLOSED: set(),
}

OPEN_STATES = set(WAITS_FOR)
MAX_WHYS = 5
