"""Configuration read from the environment; TestConfig for the test suite."""
import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("PORTAL_INSTANCE", ROOT / "instance"))


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    # Keep one random key per installation so sessions survive restarts.
    path = INSTANCE / "secret_key"
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        try:  # exclusive create, owner-only: two processes starting at once agree on one key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(os.urandom(32).hex())
        except FileExistsError:
            pass
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE / 'portal.db'}")
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    SECRET_KEY = None  # filled in by create_app, so importing this module writes nothing
    SQLALCHEMY_DATABASE_URI = None
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    # The web's connection (portal/queues.py): an enqueue waits at most this long for Redis,
    # then Redis is skipped for REDIS_RETRY_SECONDS. Workers and cron keep their own.
    REDIS_CONNECT_TIMEOUT = float(os.environ.get("REDIS_CONNECT_TIMEOUT", "0.25"))
    REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "0.25"))
    REDIS_RETRY_SECONDS = float(os.environ.get("REDIS_RETRY_SECONDS", "10"))
    UPLOAD_DIR = Path(os.environ.get("UPLOAD_DIR", INSTANCE / "uploads"))
    PDF_CACHE_DIR = Path(os.environ.get("PDF_CACHE_DIR", INSTANCE / "pdf"))

    COMPANY_NAME = os.environ.get("COMPANY_NAME", "示例食品股份有限公司")
    TIMEZONE = "Asia/Shanghai"
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"

    # Session and cookie hardening.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=int(os.environ.get("SESSION_MINUTES", "480")))
    # Re-sign and re-send the cookie only when the session changed (the idle check writes it at
    # most once a minute, which also moves its expiry): re-signing it on every response cost
    # each page a compress + HMAC.
    SESSION_REFRESH_EACH_REQUEST = False
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "120"))
    WTF_CSRF_TIME_LIMIT = None  # the session lifetime already bounds the token
    WTF_I18N_ENABLED = False  # use WTForms' own Chinese messages (forms/__init__.py)

    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))  # reverse proxies in front of gunicorn

    # Login throttling over a sliding window (portal/auth/throttle.py): this many failures in
    # the window lock the account until the oldest of them leaves it. An address (behind a
    # proxy: the whole company) is only slowed down, and only after many more failures.
    LOGIN_MAX_FAILURES = 5
    LOGIN_WINDOW_MINUTES = 15
    LOGIN_ADDRESS_FREE_FAILURES = 100
    LOGIN_ADDRESS_MAX_PAUSE_SECONDS = 60

    # Evidence limits (per file, per case); the request limit leaves room for the form.
    MAX_FILE_BYTES = 15 * 1024 * 1024
    MAX_CASE_BYTES = 60 * 1024 * 1024
    MAX_FILES_PER_CASE = 20
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024

    PAGE_SIZE = 50
    REOPEN_DAYS = 90

    # Outbox delivery (portal/notify): links in mail and robot messages start with this.
    PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000")
    # Intake API (portal/api/housekeeping.py, nightly): an Idempotency-Key's claim is let go after
    # this many hours (the case keeps the key: a later retry still finds it), the call log kept days.
    API_IDEMPOTENCY_HOURS = int(os.environ.get("API_IDEMPOTENCY_HOURS", "24"))
    API_CALL_LOG_DAYS = int(os.environ.get("API_CALL_LOG_DAYS", "90"))
    # Outbound webhooks (portal/webhooks): connect and read timeout of one delivery, seconds.
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5"))
    # The wait before a failed delivery's second attempt, seconds; unset: RETRY_AFTER[0] (10 s).
    # The later waits are RETRY_AFTER's. (The suite's real-worker retry test sets 2.)
    WEBHOOK_FIRST_RETRY_SECONDS = (float(os.environ["WEBHOOK_FIRST_RETRY_SECONDS"])
                                   if os.environ.get("WEBHOOK_FIRST_RETRY_SECONDS") else None)
    MAIL_SERVER = os.environ.get("MAIL_SERVER")  # unset: mail stays in the outbox (demo, development)
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_SENDER = os.environ.get("MAIL_SENDER", "complaints@example.com")
    SMS_PROVIDER = os.environ.get("SMS_PROVIDER", "outbox")  # outbox | http | aliyun | tencent
    SMS_HTTP_URL = os.environ.get("SMS_HTTP_URL")
    SMS_HTTP_TOKEN = os.environ.get("SMS_HTTP_TOKEN")
    SMS_ALIYUN_ACCESS_KEY_ID = os.environ.get("SMS_ALIYUN_ACCESS_KEY_ID")
    SMS_ALIYUN_ACCESS_KEY_SECRET = os.environ.get("SMS_ALIYUN_ACCESS_KEY_SECRET")
    SMS_ALIYUN_SIGN_NAME = os.environ.get("SMS_ALIYUN_SIGN_NAME")
    SMS_ALIYUN_TEMPLATE_CODE = os.environ.get("SMS_ALIYUN_TEMPLATE_CODE")
    SMS_ALIYUN_TEMPLATE_PARAM = os.environ.get("SMS_ALIYUN_TEMPLATE_PARAM", "content")
    SMS_ALIYUN_ENDPOINT = os.environ.get("SMS_ALIYUN_ENDPOINT")
    SMS_TENCENT_SECRET_ID = os.environ.get("SMS_TENCENT_SECRET_ID")
    SMS_TENCENT_SECRET_KEY = os.environ.get("SMS_TENCENT_SECRET_KEY")
    SMS_TENCENT_SDK_APP_ID = os.environ.get("SMS_TENCENT_SDK_APP_ID")
    SMS_TENCENT_SIGN_NAME = os.environ.get("SMS_TENCENT_SIGN_NAME")
    SMS_TENCENT_TEMPLATE_ID = os.environ.get("SMS_TENCENT_TEMPLATE_ID")
    SMS_TENCENT_REGION = os.environ.get("SMS_TENCENT_REGION")
    SMS_TENCENT_ENDPOINT = os.environ.get("SMS_TENCENT_ENDPOINT")

    # H4: the bell's badge asks this often; 催办 may be pressed again on a case this many
    # minutes after the last time; the customer gets an acknowledgement SMS at intake and a
    # message at closing when the case came in on one of these channels (comma-separated
    # Channel values, e.g. "hotline,phone,wechat"; empty: none).
    BELL_POLL_SECONDS = int(os.environ.get("BELL_POLL_SECONDS", "60"))
    # H5: how a step's holders are reminded (escalations use each ladder level's own channels).
    REMINDER_CHANNELS = tuple(c.strip() for c in os.environ.get("REMINDER_CHANNELS", "email,inapp").split(",")
                              if c.strip())
    HURRY_COOLDOWN_MINUTES = int(os.environ.get("HURRY_COOLDOWN_MINUTES", "30"))
    CUSTOMER_SMS_CHANNELS = os.environ.get("CUSTOMER_SMS_CHANNELS", "hotline")
    CUSTOMER_HOTLINE = os.environ.get("CUSTOMER_HOTLINE", "800-800-1234")  # in the closing SMS
    # Issue 14, the customer's progress page (portal/customer): the link stops working this many
    # days after the case closes; an address that asks for this many unknown links within
    # CUSTOMER_LINK_WINDOW_MINUTES is refused every link until the window has passed.
    CUSTOMER_LINK_DAYS = int(os.environ.get("CUSTOMER_LINK_DAYS", "30"))
    CUSTOMER_LINK_MAX_MISSES = int(os.environ.get("CUSTOMER_LINK_MAX_MISSES", "20"))
    CUSTOMER_LINK_WINDOW_MINUTES = int(os.environ.get("CUSTOMER_LINK_WINDOW_MINUTES", "10"))
    # Reports: the dashboard's on-time target (percent), and up to how many rows an export
    # streams in the request before it goes to a worker with a progress page.
    REPORT_ON_TIME_TARGET = int(os.environ.get("REPORT_ON_TIME_TARGET", "90"))
    EXPORT_STREAM_MAX = int(os.environ.get("EXPORT_STREAM_MAX", "20000"))


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    WTF_CSRF_ENABLED = True
    # Seeding runs before every test: a cheap hash keeps that fast (production uses scrypt).
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    OUTBOX_DIRECT_DISABLED = False
