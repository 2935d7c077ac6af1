"""Roles of people and kinds of organisation units."""
from portal.labels import LabeledEnum, N_


class Role(LabeledEnum):
    REP = "rep", N_("业务员")
    DESK = "desk", N_("客服专员")
    QUALITY = "quality", N_("品保")
    HANDLER = "handler", N_("责任部门经办人")
    LEADER = "leader", N_("部门领导")
    ADMIN = "admin", N_("系统管理员")


class UnitKind(LabeledEnum):
    COMPANY = "company", N_("公司")
    DEPARTMENT = "department", N_("总部部门")
    BRANCH = "branch", N_("分公司")
