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
