"""What a complaint is: its channel, nature, class, validity, customer, responsibility and the
settlement forms (PROCEDURES.md); states and steps are in states.py."""
from portal.labels import LabeledEnum, N_


class Channel(LabeledEnum):
    HOTLINE = "hotline", N_("800热线")
    PHONE = "phone", N_("普通电话")
    FAX = "fax", N_("传真")
    LETTER = "letter", N_("信函")
    EMAIL = "email", N_("电子邮件")
    STORE = "store", N_("终端销售现场")
    REGULATOR = "regulator", N_("职能部门抽查")
    MEDIA = "media", N_("媒体/网络")
    WECHAT = "wechat", N_("微信/网上")
    WALK_IN = "walk_in", N_("来访")
    FIELD = "field", N_("业务员现场")
    API = "api", N_("接口")


class Kind(LabeledEnum):
    COMPLAINT = "complaint", N_("投诉")
    GRIEVANCE = "grievance", N_("抱怨")  # partly justified; the customer's own circumstances limit the remedy


class Klass(LabeledEnum):
    GENERAL = "general", N_("一般")
    MINOR = "minor", N_("次要")
    MAJOR = "major", N_("主要")
    SPECIAL = "special", N_("特殊")
    SERIOUS = "serious", N_("严重")
    SUPERMARKET = "supermarket", N_("商超")


class Validity(LabeledEnum):
    PENDING = "pending", N_("待核实")
    VALID = "valid", N_("成立")
    NOT_VALID = "not_valid", N_("不成立")
    MALICIOUS = "malicious", N_("恶意投诉")


class CustomerType(LabeledEnum):
    CONSUMER = "consumer", N_("消费者")
    DISTRIBUTOR = "distributor", N_("经销商")
    SUPERMARKET = "supermarket", N_("商超")
    REGULATOR = "regulator", N_("职能部门")
    MEDIA = "media", N_("媒体")


class Responsibility(LabeledEnum):
    DEPARTMENT = "department", N_("责任部门")
    PERSON = "person", N_("责任人")
    SUPPLIER = "supplier", N_("供应商")
    CUSTOMER = "customer", N_("顾客自身原因")
    NONE = "none", N_("无责任方")


class SettlementForm(LabeledEnum):
    """Settlement forms of PROCEDURES.md §7."""
    PRODUCT = "product", N_("赔偿公司产品")
    EXCHANGE = "exchange", N_("全额免费更换")
    EXCHANGE_CUSTOMER_PAYS = "exchange_customer_pays", N_("更换，顾客承担工费运费")
    EXCHANGE_SHARED = "exchange_shared", N_("更换，费用分摊")
    EXCHANGE_DISCOUNT = "exchange_discount", N_("折价更换")
    CASH = "cash", N_("现金补偿")
    CUSTOMER_REPAIR = "customer_repair", N_("顾客自费维修")
    FACTORY_DECISION = "factory_decision", N_("返厂鉴定后处理")
    THIRD_PARTY = "third_party", N_("向第三方索赔")
    EXPLANATION = "explanation", N_("解释说明，不予补偿")


# The callback's satisfaction scores: the Case column and its label.
SATISFACTION_DIMENSIONS = [
    ("score_quality", N_("质量高")),
    ("score_speed", N_("办理快")),
    ("score_attitude", N_("态度好")),
    ("score_info", N_("信息准")),
    ("score_safety", N_("够安全")),
]
