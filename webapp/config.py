"""Configuration classes read from the environment, with development secrets kept in instance/."""
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.fernet import Fernet


def instance_secret(instance_path: str, name: str, make) -> str:
    """Read a development secret from instance/, creating it on first run; never committed."""
    path = Path(instance_path) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class OperatorSmtp:
    """The operator's own mail server (OPERATOR_SMTP_URL): how admins hear that their agency's
    mail is paused, since that mail cannot go through their broken settings."""

    host: str
    port: int
    security: str  # 'none' | 'starttls' | 'tls', as an agency's settings
    login: str = ""
    password: str = field(default="", repr=False)
    sender_address: str = ""


# smtps: implicit TLS (RFC 8314); smtp: STARTTLS, or none with ?security=none (a relay on the
# same machine).
_OPERATOR_SCHEMES = {"smtps": ("tls", 465), "smtp": ("starttls", 587)}


def parse_operator_smtp_url(url: str) -> OperatorSmtp:
    """smtp[s]://user:password@host:port[?from=address][&security=none]; raises ValueError with
    a message that never contains the password."""
    parts = urlsplit(url.strip())
    if parts.scheme not in _OPERATOR_SCHEMES:
        raise ValueError("OPERATOR_SMTP_URL must start with smtp:// or smtps://")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("OPERATOR_SMTP_URL: the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("OPERATOR_SMTP_URL: the mail server's host name is missing")
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    security, default_port = _OPERATOR_SCHEMES[parts.scheme]
    if query.get("security") == "none" and parts.scheme == "smtp":
        security, default_port = "none", 25
    login = unquote(parts.username or "")
    sender = query.get("from") or (login if "@" in login else "")
    if not sender:
        raise ValueError("OPERATOR_SMTP_URL: give the sender address as ?from=address "
                         "(or a login that is an address)")
    return OperatorSmtp(host=parts.hostname, port=port or default_port, security=security,
                        login=login, password=unquote(parts.password or ""), sender_address=sender)


class Config:
    """Development defaults: everything works on a fresh clone with no environment set."""

    TESTING = False
    PRODUCTION = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    REDIS_URL = "redis://127.0.0.1:6379/0"
    BABEL_DEFAULT_LOCALE = "ru"
    LANGUAGES = ("ru", "en")
    # Development-only pages (the mail catcher's inbox) are off unless the run command turns them on.
    DEV_TOOLS = False
    MAIL_CATCHER_DIR = None
    MAIL_ALLOW_PRIVATE_HOSTS = False
    # The name we give in EHLO and tell providers to allow (the seed's "sys.nemo-ibe.com").
    MAIL_EHLO_NAME = None
    # This installation's public address for links in emails (confirmation links); unset: the
    # host the booking engine called the API on.
    PUBLIC_URL = None
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    # Failed sign-ins allowed per account from one client IP (and ten times that per client IP)
    # per window.
    SIGN_IN_FAILURES_ALLOWED = 5
    SIGN_IN_WINDOW_SECONDS = 900
    # How many proxies in front of the app append to X-Forwarded-For and X-Forwarded-Proto (a
    # load balancer: 1). 0 trusts none, so a client cannot pick the address it is throttled by.
    TRUSTED_PROXIES = 0
    TEST_EMAIL_RUNS_PER_HOUR = 10
    PASSWORD_HASH_METHOD = "scrypt"
    DNS_NAMESERVERS = ""
    DNS_TIMEOUT = 3.0
    # The operator channel: None unless OPERATOR_SMTP_URL is set.
    OPERATOR_SMTP = None
    # Reading bounces (webapp/bounces/): each run of an agency's mailbox reads at most this many
    # new messages and stops after this many seconds; the next run goes on.
    BOUNCES_MAX_MESSAGES = 200
    BOUNCES_MAX_SECONDS = 60

    def __init__(self, instance_path: str):
        env = os.environ
        self.SECRET_KEY = env.get("SECRET_KEY") or instance_secret(
            instance_path, "secret_key", lambda: secrets.token_urlsafe(48))
        self.MAIL_SECRET_KEYS = env.get("MAIL_SECRET_KEYS") or instance_secret(
            instance_path, "mail_secret_keys", lambda: Fernet.generate_key().decode())
        self.SQLALCHEMY_DATABASE_URI = env.get(
            "DATABASE_URL", "sqlite:///" + os.path.join(instance_path, "mail-console.sqlite"))
        self.REDIS_URL = env.get("REDIS_URL", self.REDIS_URL)
        self.DEV_TOOLS = _flag(env.get("DEV_TOOLS"), self.DEV_TOOLS)
        self.MAIL_CATCHER_DIR = env.get("MAIL_CATCHER_DIR") or (
            os.path.join(instance_path, "mailcatcher") if self.DEV_TOOLS else None)
        self.MAIL_ALLOW_PRIVATE_HOSTS = _flag(
            env.get("MAIL_ALLOW_PRIVATE_HOSTS"), self.MAIL_ALLOW_PRIVATE_HOSTS)
        self.MAIL_EHLO_NAME = env.get("MAIL_EHLO_NAME", self.MAIL_EHLO_NAME)
        self.DNS_NAMESERVERS = env.get("DNS_NAMESERVERS", self.DNS_NAMESERVERS)
        self.DNS_TIMEOUT = float(env.get("DNS_TIMEOUT", self.DNS_TIMEOUT))
        self.PUBLIC_URL = env.get("PUBLIC_URL") or self.PUBLIC_URL
        self.TRUSTED_PROXIES = _count(env, "TRUSTED_PROXIES", self.TRUSTED_PROXIES)
        if env.get("OPERATOR_SMTP_URL"):
            self.OPERATOR_SMTP = parse_operator_smtp_url(env["OPERATOR_SMTP_URL"])
        self.BOUNCES_MAX_MESSAGES = int(env.get("BOUNCES_MAX_MESSAGES", self.BOUNCES_MAX_MESSAGES))
        self.BOUNCES_MAX_SECONDS = float(env.get("BOUNCES_MAX_SECONDS", self.BOUNCES_MAX_SECONDS))


class ProductionConfig(Config):
    """Refuses to start without the secrets a development machine would invent."""

    PRODUCTION = True
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    def __init__(self, instance_path: str):
        # PUBLIC_URL too: without it emailed links would take the host from the request, which
        # whoever sends the request chooses.
        missing = [name for name in ("SECRET_KEY", "MAIL_SECRET_KEYS", "DATABASE_URL", "PUBLIC_URL")
                   if not os.environ.get(name)]
        if missing:
            raise RuntimeError("production configuration needs " + ", ".join(missing))
        super().__init__(instance_path)


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _count(env, name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise RuntimeError(f"{name} must be a whole number of 0 or more, not {value!r}")
    return int(value)


def from_environment(instance_path: str) -> Config:
    """Pick the configuration class named by APP_ENV (development unless 'production')."""
    if os.environ.get("APP_ENV", "development") == "production":
        return ProductionConfig(instance_path)
    return Config(instance_path)
