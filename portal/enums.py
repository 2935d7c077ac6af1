"""Shared enumerations, stored as strings, with their Chinese labels in one place.

Labels are Chinese msgids (the UI is Chinese first); the English catalog translates them.
"""
from enum import Enum


class LabeledEnum(str, Enum):
    """A str enum whose members carry a display label: `Klass.MAJOR.label`."""

    def __new__(cls, value: str, label: str):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj._zh = label
        return obj

    @property
    def label(self) -> str:
        from portal.i18n import text  # cached per language: lists show these hundreds of times
        return text(self._zh)

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]

    @classmethod
    def get(cls, value):
        try:
            return cls(value) if value else None
        except ValueError:
            return None


class Role(LabeledEnum):
    REP = "rep", "业务员"
    DESK = "desk", "客服专员"
    QUALITY = "quality", "品保"
    HANDLER = "handler", "责任部门经办人"
    LEADER = "leader", "部门领导"
    ADMIN = "admin", "系统管理员"


class UnitKind(LabeledEnum):
    COMPANY = "company", "公司"
    DEPARTMENT = "department", "总部部门"
    BRANCH = "branch", "分公司"


class Channel(LabeledEnum):
    HOTLINE = "hotline", "800热线"
    PHONE = "phone", "普通电话"
    FAX = "fax", "传真"
    LETTER = "letter", "信函"
    EMAIL = "email", "电子邮件"
    STORE = "store", "终端销售现场"
    REGULATOR = "regulator", "职能部门抽查"
    MEDIA = "media", "媒体/网络"
    WECHAT = "wechat", "微信/网上"
    WALK_IN = "walk_in", "来访"
    FIELD = "field", "业务员现场"
    API = "api", "接口"


class Kind(LabeledEnum):
    COMPLAINT = "complaint", "投诉"
    GRIEVANCE = "grievance", "抱怨"  # partly justified; the customer's own circumstances limit the remedy


class Klass(LabeledEnum):
    GENERAL = "general", "一般"
    MINOR = "minor", "次要"
    MAJOR = "major", "主要"
    SPECIAL = "special", "特殊"
    SERIOUS = "serious", "严重"
    SUPERMARKET = "supermarket", "商超"


class Validity(LabeledEnum):
    PENDING = "pending", "待核实"
    VALID = "valid", "成立"
    NOT_VALID = "not_valid", "不成立"
    MALICIOUS = "malicious", "恶意投诉"


class CustomerType(LabeledEnum):
    CONSUMER = "consumer", "消费者"
    DISTRIBUTOR = "distributor", "经销商"
    SUPERMARKET = "supermarket", "商超"
    REGULATOR = "regulator", "职能部门"
    MEDIA = "media", "媒体"


class Responsibility(LabeledEnum):
    DEPARTMENT = "department", "责任部门"
    PERSON = "person", "责任人"
    SUPPLIER = "supplier", "供应商"
    CUSTOMER = "customer", "顾客自身原因"
    NONE = "none", "无责任方"


class SettlementForm(LabeledEnum):
    """Settlement forms of PROCEDURES.md §7."""
    PRODUCT = "product", "赔偿公司产品"
    EXCHANGE = "exchange", "全额免费更换"
    EXCHANGE_CUSTOMER_PAYS = "exchange_customer_pays", "更换，顾客承担工费运费"
    EXCHANGE_SHARED = "exchange_shared", "更换，费用分摊"
    EXCHANGE_DISCOUNT = "exchange_discount", "折价更换"
    CASH = "cash", "现金补偿"
    CUSTOMER_REPAIR = "customer_repair", "顾客自费维修"
    FACTORY_DECISION = "factory_decision", "返厂鉴定后处理"
    THIRD_PARTY = "third_party", "向第三方索赔"
    EXPLANATION = "explanation", "解释说明，不予补偿"


class SignatureMeaning(LabeledEnum):
    APPROVE = "approve", "批准"
    REJECT = "reject", "驳回"
    SIGN_OFF = "sign_off", "签字"
    VERIFY = "verify", "验证"
    ISSUE = "issue", "签发"


SATISFACTION_DIMENSIONS = [
    ("score_quality", "质量高"),
    ("score_speed", "办理快"),
    ("score_attitude", "态度好"),
    ("score_info", "信息准"),
    ("score_safety", "够安全"),
]
