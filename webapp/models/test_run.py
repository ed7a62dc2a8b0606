"""Test-email runs: who sent one, with which settings (never the password), each step, the hint."""
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class TestRun(db.Model):
    __test__ = False  # not a pytest test class, despite the name
    __table_args__ = (Index("ix_test_run_agency_created", "agency_id", "created_at"),)

    # Random, so a run's stream URL cannot be guessed from another's.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    to_address: Mapped[str] = mapped_column(String(320))
    settings_snapshot: Mapped[dict] = mapped_column(JSON, default=dict)
    steps: Mapped[list] = mapped_column(JSON, default=list)
    ok: Mapped[bool | None]
    failed_step: Mapped[str | None] = mapped_column(String(20))
    hint_code: Mapped[str | None] = mapped_column(String(40))
    hint_variant: Mapped[str | None] = mapped_column(String(40))
    hint_reply: Mapped[str] = mapped_column(String(1000), default="")
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at = mapped_column(UTCDateTime)
