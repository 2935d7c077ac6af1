"""What a signature means."""
from portal.labels import LabeledEnum, N_


class SignatureMeaning(LabeledEnum):
    APPROVE = "approve", N_("批准")
    REJECT = "reject", N_("驳回")
    SIGN_OFF = "sign_off", N_("签字")
    VERIFY = "verify", N_("验证")
    ISSUE = "issue", N_("签发")
