"""Why a case escalates, and who a ladder level names."""
from portal.labels import LabeledEnum, N_


class Trigger(LabeledEnum):
    LIMIT_PASSED = "limit_passed", N_("超过办理时限")
    NO_SOLUTION_4H = "no_solution_4h", N_("4小时内无顾客接受的方案")
    CUSTOMER_REJECTED = "customer_rejected", N_("顾客不接受处理结果")
    MEDIA_THREAT = "media_threat", N_("顾客扬言向监管部门或媒体反映")
    ABOVE_AUTHORITY = "above_authority", N_("补偿超出本级权限")
    MANUAL = "manual", N_("手动升级")


class Who(LabeledEnum):
    STEP_LEADERS = "step_leaders", N_("当前环节所在部门的领导")
    ROLE = "role", N_("某角色（可限定部门）")
    USER = "user", N_("指定人员")
