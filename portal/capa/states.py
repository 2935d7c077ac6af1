"""Sheet states and what may follow each (whom each waits for: portal/capa/access.py WAITS)."""
from portal.labels import LabeledEnum, N_


class SheetState(LabeledEnum):
    ISSUED = "issued", N_("待部门回复")
    RESPONDED = "responded", N_("待部门领导批准")
    APPROVED = "approved", N_("待品保验证")
    RETURNED = "returned", N_("退回整改")
    CLOSED = "closed", N_("已关闭")


class Layout(LabeledEnum):
    STANDARD = "standard", N_("标准格式")
    EIGHT_D = "8d", N_("8D 格式")


MOVES: dict[SheetState, set[SheetState]] = {
    SheetState.ISSUED: {SheetState.RESPONDED},
    SheetState.RETURNED: {SheetState.RESPONDED},
    SheetState.RESPONDED: {SheetState.APPROVED, SheetState.RETURNED},
    SheetState.APPROVED: {SheetState.CLOSED, SheetState.RETURNED},
    SheetState.CLOSED: set(),
}

OPEN_STATES = {SheetState.ISSUED, SheetState.RETURNED, SheetState.RESPONDED, SheetState.APPROVED}
MAX_WHYS = 5
