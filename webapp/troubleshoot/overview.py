"""The delivery overview: sent, failed and skipped emails per day, and the top failure reasons."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import OutboxEmail
from webapp.models.types import utcnow
from webapp.outbox import reasons
from webapp.smtpcheck.hints import CATALOGUE, hint_for

DAYS = 30
CHART_STATUSES = ("sent", "failed", "skipped")
# Failed rows are explained by their hint, skipped and unknown ones by their reason.
FAILURE_STATUSES = ("failed", "skipped", "unknown")


@dataclass(frozen=True)
class DayCounts:
    day: date
    sent: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.skipped


@dataclass(frozen=True)
class FailureReason:
    status: str
    code: str  # a hint code for failed rows, a reason code otherwise
    count: int
    title: str
    fix: str
    field: str | None


def first_day(now: datetime | None = None) -> date:
    return (now or utcnow()).date() - timedelta(days=DAYS - 1)


def _start(now: datetime | None) -> datetime:
    return datetime.combine(first_day(now), time.min, tzinfo=timezone.utc)


def delivery_by_day(agency_id: int, now: datetime | None = None) -> list[DayCounts]:
    """The last 30 days (UTC, by the day the email was created, as the email log filters), oldest first."""
    day = func.date(OutboxEmail.created_at)
    rows = db.session.execute(
        select(day, OutboxEmail.status, func.count(OutboxEmail.id))
        .where(OutboxEmail.agency_id == agency_id, OutboxEmail.created_at >= _start(now),
               OutboxEmail.status.in_(CHART_STATUSES + ("bounced",)))
        .group_by(day, OutboxEmail.status)).all()
    counts: dict[str, dict[str, int]] = {}
    for value, status, count in rows:
        # SQLite gives "YYYY-MM-DD", PostgreSQL a date: both print the same. A bounced email
        # (returned after acceptance, webapp/bounces/) did not arrive: it counts as failed.
        status = "failed" if status == "bounced" else status
        day_counts = counts.setdefault(str(value)[:10], {})
        day_counts[status] = day_counts.get(status, 0) + count
    start = first_day(now)
    days = [start + timedelta(days=offset) for offset in range(DAYS)]
    return [DayCounts(day, **counts.get(day.isoformat(), {})) for day in days]


def top_failure_reasons(agency_id: int, now: datetime | None = None, limit: int = 5) -> list[FailureReason]:
    code = func.coalesce(OutboxEmail.hint_code, OutboxEmail.status_reason)
    rows = db.session.execute(
        select(OutboxEmail.status, code, func.count(OutboxEmail.id))
        .where(OutboxEmail.agency_id == agency_id, OutboxEmail.created_at >= _start(now),
               OutboxEmail.status.in_(FAILURE_STATUSES))
        .group_by(OutboxEmail.status, code)
        .order_by(func.count(OutboxEmail.id).desc(), OutboxEmail.status, code).limit(limit)).all()
    return [_reason(status, code or "", count) for status, code, count in rows]


def _reason(status: str, code: str, count: int) -> FailureReason:
    if code in CATALOGUE:
        hint = hint_for(code)
        return FailureReason(status, code, count, str(hint.title), str(hint.fix), hint.field)
    return FailureReason(status, code, count, str(reasons.TITLES.get(code, code or status)), "", None)


def totals(days: list[DayCounts]) -> DayCounts:
    return DayCounts(days[-1].day, sum(d.sent for d in days), sum(d.failed for d in days),
                     sum(d.skipped for d in days))


@dataclass(frozen=True)
class Bar:
    """One day's stacked bar in the chart, in SVG units (y grows downwards)."""

    counts: DayCounts
    x: float
    segments: tuple  # (status, y, height)
    label: bool  # print the date under this bar


CHART_HEIGHT = 160
BAR_STEP = 20


def chart_bars(days: list[DayCounts]) -> tuple[list[Bar], int]:
    """The bars and the scale's top value; every fifth day and the last one get a date label."""
    top = max((d.total for d in days), default=0) or 1
    bars = []
    for index, counts in enumerate(days):
        y, segments = float(CHART_HEIGHT), []
        for status in CHART_STATUSES:
            height = CHART_HEIGHT * getattr(counts, status) / top
            if height:
                y -= height
                segments.append((status, round(y, 2), round(height, 2)))
        bars.append(Bar(counts, index * BAR_STEP, tuple(segments),
                        label=index % 5 == 0 or index == len(days) - 1))
    return bars, top
