"""The words of the time-limit domain: calendars, actions at breach, kinds of calendar day."""
from portal.labels import LabeledEnum, N_


class CalendarKind(LabeledEnum):
    ROUND_THE_CLOCK = "24x7", N_("全天候（24×7）")
    WORKING = "working", N_("工作时间")


class BreachAction(LabeledEnum):
    """What happens when a limit passes (issue 11: escalate by default)."""
    ESCALATE = "escalate", N_("逐级升级")
    HAND_TO_LEADER = "hand_to_leader", N_("转交部门领导")
    SEND_BACK = "send_back", N_("退回上一步")
    REPEAT = "repeat", N_("重复提醒")


class DayKind(LabeledEnum):
    HOLIDAY = "holiday", N_("放假")
    WORKDAY = "workday", N_("调休上班")  # a Saturday or Sunday worked in exchange (调休)
