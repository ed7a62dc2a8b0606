"""A production configuration refuses to run on invented secrets."""
import pytest

from webapp import create_app


def test_production_without_mail_secret_keys_refuses_to_start(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.delenv("MAIL_SECRET_KEYS", raising=False)
    with pytest.raises(RuntimeError, match="MAIL_SECRET_KEYS"):
        create_app()


def test_production_without_a_public_url_refuses_to_start(monkeypatch):
    """Emailed links must not take their host from whoever sends the request."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("MAIL_SECRET_KEYS", "x" * 43 + "=")
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    with pytest.raises(RuntimeError, match="PUBLIC_URL"):
        create_app()
