"""When an order's or a client's next scheduled email or expiry falls due: pure functions of the row
and the agency's settings (a MailSettings row or a SettingsView), with no clock and no database."""
from datetime import datetime, timedelta

# How often `rq cron` runs the tick (webapp/cron.py); also the "next run" operators see.
TICK_INTERVAL = timedelta(seconds=60)


def warning_window(order, settings) -> tuple[datetime, datetime] | None:
    """[start, end) in which the time-limit warning may go (S6); None when none is owed.

    "From A to B minutes before" is [limit - B, limit - A]; "up to B" alone is [limit - B, limit).
    """
    to_minutes, from_minutes = settings.warn_to_minutes, settings.warn_from_minutes
    limit = order.payment_time_limit
    if not to_minutes or limit is None or order.paid or order.status == "cancelled":
        return None
    start = limit - timedelta(minutes=to_minutes)
    end = limit - timedelta(minutes=from_minutes or 0)
    # "From" equal to "to" names a moment, which a tick every minute would miss: give it one tick.
    return start, max(end, start + TICK_INTERVAL)


def data_deadline_window(order, settings) -> tuple[datetime, datetime] | None:
    """[deadline - N hours, deadline) for the data-deadline notification (S5); None when none is owed."""
    hours, deadline = settings.data_deadline_hours, order.data_deadline
    if not hours or deadline is None or order.data_complete or order.status == "cancelled":
        return None
    return deadline - timedelta(hours=hours), deadline


def reschedule(order, settings) -> None:
    """Put the order's next due moments on the row, where the tick's indexed query finds them.

    Called whenever the order is created or changed, and for the agency's open orders when its
    settings change. A moment already past is harmless: the tick clears it without sending.
    """
    warning = warning_window(order, settings)
    order.warn_due_at = warning[0] if warning else None
    data = data_deadline_window(order, settings)
    order.data_due_at = data[0] if data else None


def registration_expiry(registered_at: datetime, expiry_minutes: int | None) -> datetime | None:
    """When an unconfirmed registration expires (S4); None when the agency's expiry is empty or 0."""
    return registered_at + timedelta(minutes=expiry_minutes) if expiry_minutes else None
