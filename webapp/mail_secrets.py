"""Encryption of stored SMTP passwords with MultiFernet: the first key encrypts, all keys decrypt."""
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class MailSecretError(Exception):
    """A stored password cannot be decrypted with any configured key."""


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in current_app.config["MAIL_SECRET_KEYS"].split(",") if k.strip()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise MailSecretError("no configured MAIL_SECRET_KEYS key decrypts this password") from exc


def rotate(token: str) -> str:
    """Re-encrypt under the first (newest) key, so old keys can then be retired."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise MailSecretError("no configured MAIL_SECRET_KEYS key decrypts this password") from exc
