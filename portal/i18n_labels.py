"""Chinese labels that reach gettext only at run time, marked here so `pybabel extract` sees them.

Enum labels (`LabeledEnum.label` calls `gettext(self._zh)`), the timeline's ACTION_LABELS,
the callback's SATISFACTION_DIMENSIONS, the list's SORT_LABELS and the workflow's TRANSITIONS
labels are passed to gettext as variables, so the extractor cannot find them where they are
defined. Each is listed below as a literal `N_("…")` call (gettext_noop: returns the string
unchanged; `N_` is one of pybabel's default keywords).

Keep this file in step with those definitions: tests/test_i18n.py fails when a label is
missing here or has no English translation in portal/translations/en/LC_MESSAGES/messages.po.
Nothing imports this module at run time.
"""


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it."""
    return message


# ---------------------------------------------------------------- portal/enums.py

ROLE = (
    N_("业务员"),
    N_("客服专员"),
    N_("品保"),
    N_("责任部门经办人"),
    N_("部门领导"),
    N_("系统管理员"),
)

UNIT_KIND = (
    N_("公司"),
    N_("总部部门"),
    N_("分公司"),
)

CHANNEL = (
    N_("800热线"),
    N_("普通电话"),
    N_("传真"),
    N_("信函"),
    N_("电子邮件"),
    N_("终端销售现场"),
    N_("职能部门抽查"),
    N_("媒体/网络"),
    N_("微信/网上"),
    N_("来访"),
    N_("业务员现场"),
    N_("接口"),
)

KIND = (
    N_("投诉"),
    N_("抱怨"),
)

KLASS = (
    N_("一般"),
    N_("次要"),
    N_("主要"),
    N_("特殊"),
    N_("严重"),
    N_("商超"),
)

VALIDITY = (
    N_("待核实"),
    N_("成立"),
    N_("不成立"),
    N_("恶意投诉"),
)

CUSTOMER_TYPE = (
    N_("消费者"),
    N_("经销商"),
    N_("商超"),
    N_("职能部门"),
    N_("媒体"),
)

RESPONSIBILITY = (
    N_("责任部门"),
    N_("责任人"),
    N_("供应商"),
    N_("顾客自身原因"),
    N_("无责任方"),
)

SETTLEMENT_FORM = (
    N_("赔偿公司产品"),
    N_("全额免费更换"),
    N_("更换，顾客承担工费运费"),
    N_("更换，费用分摊"),
    N_("折价更换"),
    N_("现金补偿"),
    N_("顾客自费维修"),
    N_("返厂鉴定后处理"),
    N_("向第三方索赔"),
    N_("解释说明，不予补偿"),
)

SIGNATURE_MEANING = (
    N_("批准"),
    N_("驳回"),
    N_("签字"),
    N_("验证"),
    N_("签发"),
)

SATISFACTION_DIMENSIONS = (
    N_("质量高"),
    N_("办理快"),
    N_("态度好"),
    N_("信息准"),
    N_("够安全"),
)

# ---------------------------------------------------------------- portal/cases/states.py

STATE = (
    N_("待核实"),
    N_("待补充信息"),
    N_("待分派"),
    N_("不予受理"),
    N_("调查处理中"),
    N_("待领导批示"),
    N_("待实施"),
    N_("待回访确认"),
    N_("已结案"),
)

STEP = (
    N_("核实"),
    N_("补充信息"),
    N_("分派"),
    N_("首次跟进"),
    N_("调查并提出方案"),
    N_("领导批示"),
    N_("实施方案"),
    N_("回访顾客"),
    N_("领导签字结案"),
)

# ---------------------------------------------------------------- portal/cases/timeline.py

ACTION_LABELS = (
    N_("登记受理"),
    N_("核实成立"),
    N_("核实不成立，不予受理"),
    N_("要求补充信息"),
    N_("补充了信息"),
    N_("批号追溯"),
    N_("分派责任部门"),
    N_("改派责任部门"),
    N_("人工指定生产部门"),
    N_("首次跟进"),
    N_("提出处理方案"),
    N_("领导批准"),
    N_("领导驳回方案"),
    N_("方案已实施"),
    N_("回访未联系上"),
    N_("回访：顾客满意"),
    N_("回访：顾客不满意，退回重新处理"),
    N_("领导签字结案"),
    N_("重新打开"),
    N_("电子签名"),
    N_("业务员现场处理"),
    N_("核实为恶意投诉，不予受理"),
)

# ---------------------------------------------------------------- portal/cases/queries.py

SORT_LABELS = (
    N_("最新受理"),
    N_("最早受理"),
    N_("时限最近"),
    N_("编号倒序"),
)

# ---------------------------------------------------------------- portal/cases/operations.py

TRANSITIONS = (
    N_("核实"),
    N_("要求补充信息"),
    N_("补充信息"),
    N_("批号追溯"),
    N_("分派"),
    N_("首次跟进"),
    N_("提出处理方案"),
    N_("批准"),
    N_("驳回"),
    N_("记录实施"),
    N_("回访"),
    N_("签字结案"),
    N_("重新打开"),
    N_("改派"),
    N_("现场处理"),
)

# ---------------------------------------------------------------- portal/cases/models.py

APPROVER = (
    N_("责任部门领导"),
    N_("公司领导"),
)

LABELS: frozenset[str] = frozenset(
    ROLE + UNIT_KIND + CHANNEL + KIND + KLASS + VALIDITY + CUSTOMER_TYPE + RESPONSIBILITY
    + SETTLEMENT_FORM + SIGNATURE_MEANING + SATISFACTION_DIMENSIONS + STATE + STEP
    + ACTION_LABELS + SORT_LABELS + TRANSITIONS + APPROVER)
