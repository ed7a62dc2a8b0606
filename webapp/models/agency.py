"""Agencies (the tenants) and their staff."""
from flask import current_app
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Agency(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The agency's own address: test emails go here (S3) and it is checked by troubleshooting (S11).
    email: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(8), default="ru")
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    users = relationship("User", back_populates="agency", order_by="User.email")


class User(UserMixin, db.Model):
    __tablename__ = "staff_user"  # "user" is reserved in PostgreSQL
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    # None: follow the browser's Accept-Language.
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # Part of the id in every session and remember cookie: raising it (sign-out, a new password)
    # makes the cookies issued before worthless, which a signed cookie alone cannot be made.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    agency = relationship("Agency", back_populates="users")

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(
            password, method=current_app.config["PASSWORD_HASH_METHOD"])
        self.session_version = (self.session_version or 0) + 1

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)
