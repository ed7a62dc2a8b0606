"""An agency's editable email templates (S13): one row per notification kind and language."""
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class EmailTemplate(db.Model):
    __table_args__ = (UniqueConstraint("agency_id", "kind", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    kind: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8))
    # Jinja sources, checked by webapp.mailtemplates.render before they are saved.
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # Disabled: the kind is not sent in this language (the outbox skips it: "no template", S11).
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    agency = relationship("Agency")
