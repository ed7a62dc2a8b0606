"""The troubleshooting checks (S11, S12, S10): one function each, reading only the agency's own data."""
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import format_datetime, gettext as _, lazy_gettext as _l
from sqlalchemy import func, select

from webapp import notification_kinds as kinds
from webapp.extensions import db
from webapp.mailsettings.service import SettingsView, settings_view
from webapp.mailtemplates.render import TemplateBroken, TemplateMissing, render_email
from webapp.mailtemplates.service import find_template
from webapp.models import Agency, Order, OutboxEmail, User
from webapp.models.types import utcnow
from webapp.outbox import reasons
from webapp.outbox.documents import MAX_DOCUMENTS, refusals_since
from webapp.outbox.limits import daily_outlook
from webapp.outbox.sender import current_pause
from webapp.smtpcheck.hints import CONNECTION_CODES, default_ehlo_name, hint_for
from webapp.smtpcheck.message import NoSenderAddress, sender_identity
from webapp.smtpcheck.service import last_run, run_hint
from webapp.troubleshoot.dnsrecords import DnsUnavailable, TxtLookup

OK, PROBLEM, UNKNOWN = "ok", "problem", "unknown"
# "In use" and "recent" as the page explains them.
WINDOW = timedelta(days=30)
RECENT = timedelta(days=7)
# Failures that mean the connection or the login does not work, not one recipient: the hint
# catalogue's own list.
CONNECTION_HINTS = CONNECTION_CODES
# Selectors of the big providers and of the usual control panels: Yandex "mail", Mail.ru
# "mailru", Microsoft 365 "selector1/2", Google "google", cPanel/Plesk "default", Mailchimp "k1".
DKIM_SELECTORS = ("default", "mail", "mailru", "dkim", "selector1", "selector2", "google", "k1",
                  "s1", "s2", "smtp")


@dataclass(frozen=True)
class Link:
    """Where to fix it: an endpoint, its query arguments and the field's anchor, made a URL when shown."""

    endpoint: str
    label: str
    anchor: str = ""
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    check: str
    area: str
    status: str  # ok | problem | unknown ("could not check")
    title: str
    detail: str = ""
    fix: str = ""
    link: Link | None = None
    action: str | None = None  # a button the result offers: "clear_copies"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CheckContext:
    """What every check reads, gathered once per run."""

    agency: Agency
    settings: SettingsView
    now: datetime
    ehlo_name: str
    dns: TxtLookup


def make_context(agency: Agency, *, now: datetime | None = None, dns: TxtLookup | None = None) -> CheckContext:
    return CheckContext(agency=agency, settings=settings_view(agency), now=now or utcnow(),
                        ehlo_name=outgoing_host_name(), dns=dns or TxtLookup())


def outgoing_host_name() -> str:
    """The name this installation gives in EHLO: what a provider has to allow (S10)."""
    return current_app.config.get("MAIL_EHLO_NAME") or default_ehlo_name()


def _settings_link(field_name: str, label: str | None = None) -> Link:
    return Link("mailsettings.edit", label or _("Open the mail settings"), anchor=field_name)


def _log_link(ctx: CheckContext, since: timedelta, **args) -> Link:
    date_from = (ctx.now - since).date().isoformat()
    return Link("emaillog.index", _("Show these emails in the email log"), args={"date_from": date_from, **args})


def _rows_since(agency_id: int, since: datetime):
    return select(func.count(OutboxEmail.id)).where(OutboxEmail.agency_id == agency_id,
                                                    OutboxEmail.created_at >= since)


def _count(query) -> int:
    return db.session.execute(query).scalar_one()


# 1. Connection -------------------------------------------------------------------------------

def check_last_test(ctx: CheckContext) -> CheckResult:
    run = last_run(ctx.agency.id)
    base = dict(check="last_test", area="connection")
    if run is None:
        return CheckResult(**base, status=UNKNOWN, title=_("No test email has been sent yet"),
                           detail=_("Without a test nothing is known about whether the mail server accepts these settings."),
                           fix=_("Send a test email from the mail settings page."),
                           link=_settings_link("test-email"))
    when = format_datetime(run.finished_at, "short")
    if run.ok:
        return CheckResult(**base, status=OK, title=_("The last test email (%(when)s) was accepted", when=when),
                           detail=_("It went to %(to)s.", to=run.to_address))
    hint = run_hint(run)
    stale = ctx.settings.updated_at and ctx.settings.updated_at > run.finished_at
    detail = str(hint.detail) if hint else ""
    if hint and hint.reply:
        detail += " " + _("Server reply: %(reply)s", reply=hint.reply)
    if stale:
        detail += " " + _("The settings have changed since that test.")
    return CheckResult(**base, status=PROBLEM,
                       title=_("The last test email (%(when)s) failed: %(title)s", when=when,
                               title=hint.title if hint else run.failed_step),
                       detail=detail.strip(),
                       fix=_("%(fix)s Then send the test email again.", fix=hint.fix if hint else ""),
                       link=_settings_link(hint.field if hint and hint.field else "test-email"))


def check_connection_failures(ctx: CheckContext) -> CheckResult:
    """Login and connection failures of real notifications since the last one that went out."""
    agency_id = ctx.agency.id
    last_sent = db.session.execute(select(func.max(OutboxEmail.sent_at)).where(
        OutboxEmail.agency_id == agency_id, OutboxEmail.status == "sent")).scalar_one()
    since = max(filter(None, (ctx.now - RECENT, last_sent)))
    counts = db.session.execute(
        select(OutboxEmail.hint_code, func.count(OutboxEmail.id), func.max(OutboxEmail.last_reply))
        .where(OutboxEmail.agency_id == agency_id, OutboxEmail.hint_code.in_(CONNECTION_HINTS),
               OutboxEmail.updated_at >= since)
        .group_by(OutboxEmail.hint_code).order_by(func.count(OutboxEmail.id).desc())).all()
    base = dict(check="connection_failures", area="connection")
    if not counts:
        return CheckResult(**base, status=OK,
                           title=_("No connection or login failures in the email log"),
                           detail=_("Checked: the last 7 days, after the last email that was sent."))
    code, count, reply = counts[0]
    hint = hint_for(code, ehlo_name=ctx.ehlo_name, reply=reply or "")
    others = ", ".join(f"{hint_for(c).title}: {n}" for c, n, _r in counts[1:])
    detail = str(hint.detail)
    if reply:
        detail += " " + _("Server reply: %(reply)s", reply=reply)
    if others:
        detail += " " + _("Also: %(others)s.", others=others)
    return CheckResult(**base, status=PROBLEM,
                       title=_("%(count)d notifications failed recently: %(title)s", count=count, title=hint.title),
                       detail=detail, fix=str(hint.fix),
                       link=_settings_link(hint.field) if hint.field else _log_link(ctx, RECENT, status="failed"))


def check_sending_pause(ctx: CheckContext) -> CheckResult:
    pause = current_pause(ctx.agency.id)
    base = dict(check="sending_pause", area="connection")
    if pause is None:
        return CheckResult(**base, status=OK, title=_("Sending is not paused"))
    hint = hint_for(pause.hint_code, ehlo_name=ctx.ehlo_name, reply=pause.reply) if pause.hint_code else None
    return CheckResult(**base, status=PROBLEM,
                       title=_("Sending is paused since %(when)s: %(reason)s", when=format_datetime(pause.paused_at, "short"),
                               reason=hint.title if hint else _("the mail settings are incomplete")),
                       detail=_("Notifications wait in the queue; sending resumes by itself when a background check of the settings or a test email succeeds."),
                       fix=_("%(fix)s Then send a test email: its success resumes sending.",
                             fix=hint.fix if hint else _("Fill in the server, the port and the login.")),
                       link=_settings_link(hint.field if hint and hint.field else "test-email"))


def check_too_late(ctx: CheckContext) -> CheckResult:
    """Emails dropped because the moment they were about passed while they waited (a paused or
    failing sending, a long retry), counted by kind."""
    by_kind = db.session.execute(
        select(OutboxEmail.kind, func.count(OutboxEmail.id))
        .where(OutboxEmail.agency_id == ctx.agency.id, OutboxEmail.status == "failed",
               OutboxEmail.created_at >= ctx.now - WINDOW,
               OutboxEmail.status_reason == reasons.TOO_LATE)
        .group_by(OutboxEmail.kind).order_by(func.count(OutboxEmail.id).desc(), OutboxEmail.kind)).all()
    base = dict(check="too_late", area="connection")
    if not by_kind:
        return CheckResult(**base, status=OK, title=_("No email was dropped as too late in the last 30 days"))
    counts = ", ".join(f"{kinds.KINDS[kind]['title'] if kind in kinds.KINDS else kind}: {count}"
                       for kind, count in by_kind)
    return CheckResult(**base, status=PROBLEM,
                       title=_("%(count)d emails were dropped as too late in the last 30 days (%(kinds)s)",
                               count=sum(count for _kind, count in by_kind), kinds=counts),
                       detail=_("They waited until the moment they were about had passed (a confirmation "
                                "link's expiry, a payment time limit, a data deadline), usually while "
                                "sending was paused or failing."),
                       fix=_("Keep sending working: the checks above say why it failed, and the banner "
                             "on every page says when it pauses."),
                       link=_log_link(ctx, WINDOW, status="failed"))


def check_daily_limit(ctx: CheckContext) -> CheckResult:
    """A daily sending limit (the provider's or the agency's) that the waiting emails exceed."""
    outlook = daily_outlook(ctx.agency.id, ctx.now)
    base = dict(check="daily_limit", area="connection")
    if outlook is None or not outlook.will_be_hit:
        return CheckResult(**base, status=OK,
                           title=_("The waiting emails fit in the daily sending limit"))
    return CheckResult(**base, status=PROBLEM,
                       title=_("The daily sending limit (%(limit)s emails in 24 hours) will be reached "
                               "before the queue is sent", limit=outlook.per_day),
                       detail=_("%(waiting)s emails wait, %(left)s can go in the next 24 hours; the "
                                "rest waits for the limit (shown in the email log), nothing fails "
                                "for it.", waiting=outlook.waiting, left=outlook.left),
                       fix=_("If the provider allows more for this mailbox, raise the limit with "
                             "the provider; otherwise send less at once or use a mailbox meant for "
                             "mailings."),
                       link=_log_link(ctx, WINDOW, status="queued"))


# 2. Templates --------------------------------------------------------------------------------

def kinds_in_use(ctx: CheckContext) -> list[str]:
    """Kinds with emails in the outbox in the last 30 days, registration confirmations always,
    order changes while "email the client when the order changes" is on (S7), and once the
    engine reports orders, the client's booking emails and the agency notifications that are on."""
    found = set(db.session.execute(select(OutboxEmail.kind).distinct().where(
        OutboxEmail.agency_id == ctx.agency.id, OutboxEmail.created_at >= ctx.now - WINDOW)).scalars())
    found.add(kinds.REGISTRATION_CONFIRMATION)
    if ctx.settings.order_change_emails:
        found.add(kinds.ORDER_CHANGE)
    has_orders = db.session.execute(
        select(Order.id).where(Order.agency_id == ctx.agency.id).limit(1)).first() is not None
    if has_orders:
        for client_kind, agency_kind, toggle in kinds.BOOKING_EVENTS.values():
            if client_kind != kinds.ORDER_CHANGE:
                found.add(client_kind)
            if getattr(ctx.settings, toggle):
                found.add(agency_kind)
    return [kind for kind in kinds.KINDS if kind in found and kind != kinds.TEST_EMAIL]


def languages_in_use(ctx: CheckContext) -> list[str]:
    """The agency's language, the clients' default one, and any other its emails of the last
    30 days were written in."""
    found = set(db.session.execute(select(OutboxEmail.language).distinct().where(
        OutboxEmail.agency_id == ctx.agency.id, OutboxEmail.created_at >= ctx.now - WINDOW)).scalars())
    found.add(ctx.settings.client_language)
    return [ctx.agency.locale] + sorted(found - {ctx.agency.locale})


def check_templates(ctx: CheckContext) -> CheckResult:
    problems = []
    languages = languages_in_use(ctx)
    for kind in kinds_in_use(ctx):
        # The agency address's notifications are written in the agency's language only.
        for language in [ctx.agency.locale] if kind in kinds.AGENCY_KINDS else languages:
            name = f"{kinds.KINDS[kind]['title']} ({language})"
            try:
                render_email(ctx.agency.id, kind, language, kinds.sample_context(kind))
            except TemplateBroken:
                problems.append(_("%(template)s: does not render", template=name))
            except TemplateMissing:
                missing = find_template(ctx.agency.id, kind, language) is None
                problems.append(_("%(template)s: missing", template=name) if missing
                                else _("%(template)s: disabled", template=name))
    skipped = _count(_rows_since(ctx.agency.id, ctx.now - WINDOW).where(
        OutboxEmail.status == "skipped", OutboxEmail.status_reason == reasons.NO_TEMPLATE))
    base = dict(check="templates", area="templates")
    in_use = _("Checked: the kinds sent in the last 30 days, registration confirmations, order changes while they are on, the booking emails once the booking engine reports orders and the agency notifications that are on; in each language used and the clients' default language.")
    if not problems and not skipped:
        return CheckResult(**base, status=OK, title=_("Every template in use is present and enabled"), detail=in_use)
    detail = "; ".join(problems) + ("." if problems else "")
    if skipped:
        detail += " " + _("%(count)d emails of the last 30 days were skipped for want of a template.", count=skipped)
    return CheckResult(**base, status=PROBLEM,
                       title=_("%(count)d templates in use are missing or disabled", count=len(problems)) if problems
                       else _("Emails were skipped for want of a template"),
                       detail=f"{detail.strip()} {in_use}",
                       fix=_("Enable the template, or restore its default text, on the templates page."),
                       link=Link("templates.index", _("Open the templates")))


# 3. Addresses --------------------------------------------------------------------------------

def check_agency_address(ctx: CheckContext) -> CheckResult:
    base = dict(check="agency_address", area="addresses")
    if ctx.settings.agency_email:
        return CheckResult(**base, status=OK, title=_("The agency address is %(email)s", email=ctx.settings.agency_email))
    detail = _("Test emails go to the agency address and templates sign with it.")
    if ctx.settings.agency_notifications_on:
        # S11 as the seed states it: booking notifications do not reach the agency.
        skipped = _count(_rows_since(ctx.agency.id, ctx.now - WINDOW).where(
            OutboxEmail.kind.in_(kinds.AGENCY_KINDS), OutboxEmail.status == "skipped"))
        detail += " " + _("The agency notifications of booking events are on, but have nowhere to go: %(count)d of them were skipped in the last 30 days.", count=skipped)
    return CheckResult(**base, status=PROBLEM, title=_("The agency has no email address"),
                       detail=detail,
                       fix=_("Fill in the agency email in the mail settings."),
                       link=_settings_link("agency_email"))


def check_admin_addresses(ctx: CheckContext) -> CheckResult:
    """Every administrator's profile has an address, and there is an administrator at all."""
    admins = db.session.execute(select(User).filter_by(agency_id=ctx.agency.id, is_admin=True)
                                .order_by(User.email)).scalars().all()
    base = dict(check="admin_addresses", area="addresses")
    if not admins:
        return CheckResult(**base, status=PROBLEM, title=_("The agency has no administrator"),
                           fix=_("Ask the operator to create an administrator for the agency."),
                           link=Link("staff.staff_list", _("Open the staff list")))
    without = [admin for admin in admins if not (admin.email or "").strip()]
    if without:
        return CheckResult(**base, status=PROBLEM,
                           title=_("%(count)d administrators have no email address in their profile", count=len(without)),
                           fix=_("Add an email address to the administrator's profile."),
                           link=Link("staff.profile", _("Open the profile"), args={"user_id": without[0].id}))
    return CheckResult(**base, status=OK, title=_("Every administrator's profile has an address"),
                       detail=", ".join(admin.email for admin in admins))


def check_payment_address(ctx: CheckContext) -> CheckResult:
    events = _count(_rows_since(ctx.agency.id, ctx.now - WINDOW).where(OutboxEmail.kind == kinds.PAYMENT_PROBLEM))
    base = dict(check="payment_address", area="addresses")
    if ctx.settings.payment_problems_email:
        return CheckResult(**base, status=OK, title=_("Payment problems go to %(email)s",
                                                      email=ctx.settings.payment_problems_email))
    if not events:
        return CheckResult(**base, status=OK, title=_("No payment-problem address, and no payment problems in the last 30 days"),
                           fix=_("Set the address before the first payment problem arrives."),
                           link=_settings_link("payment_problems_email"))
    return CheckResult(**base, status=PROBLEM,
                       title=_("%(count)d payment problems in the last 30 days, but no address to send them to", count=events),
                       detail=_("Nobody was told about these payments: the email log shows them as skipped."),
                       fix=_("Fill in the address for payment-problem notifications."),
                       link=_settings_link("payment_problems_email"))


# 4. Spam and format --------------------------------------------------------------------------

def sender_domain(settings: SettingsView) -> str | None:
    """The domain in From, by the rule every message is built with (message.sender_identity)."""
    try:
        return sender_identity(settings).domain
    except NoSenderAddress:
        return None


def check_sender_identity(ctx: CheckContext) -> CheckResult:
    """Who notifications come from; a configuration that gives no address to send from."""
    base = dict(check="sender_identity", area="addresses")
    try:
        sender = sender_identity(ctx.settings)
    except NoSenderAddress:
        return CheckResult(**base, status=PROBLEM, title=_("There is no address to send from"),
                           detail=_("The sender address and the agency email are empty and the login is not an email address: an email would have to claim to come from its own recipient, so nothing is sent."),
                           fix=_("Fill in the sender address, or the agency email, or the login as the full mailbox address."),
                           link=_settings_link("sender_address"))
    source = {"sender_address": _("the sender address"), "login": _("the login"),
              "agency_email": _("the agency email")}[sender.source]
    return CheckResult(**base, status=OK, title=_("Emails go out from %(address)s", address=sender.address),
                       detail=_("Taken from %(source)s; the envelope sender is %(envelope)s.",
                                source=source, envelope=sender.envelope))


def _no_sender(base: dict) -> CheckResult:
    return CheckResult(**base, status=UNKNOWN, title=_("Could not check: no sender domain"),
                       detail=_("The sender address and the agency email are empty and the login is not an email address."),
                       fix=_("Fill in the sender address, or the agency email, or the login as the full mailbox address."),
                       link=_settings_link("sender_address"))


def _dns_unknown(base: dict, what: str, reason: str) -> CheckResult:
    return CheckResult(**base, status=UNKNOWN, title=_("Could not check %(what)s: %(reason)s", what=what, reason=reason),
                       fix=_("Check again later; if it lasts, tell support that this installation cannot reach its DNS servers."))


def check_spf(ctx: CheckContext) -> CheckResult:
    base = dict(check="spf", area="spam")
    domain = sender_domain(ctx.settings)
    if domain is None:
        return _no_sender(base)
    try:
        records = [r for r in ctx.dns.txt(domain) if r.lower().startswith("v=spf1")]
    except DnsUnavailable as exc:
        return _dns_unknown(base, "SPF", str(exc))
    if len(records) == 1:
        return CheckResult(**base, status=OK, title=_("%(domain)s has an SPF record", domain=domain), detail=records[0])
    if records:
        # RFC 7208 section 4.5: more than one SPF record is a permanent error for receivers.
        return CheckResult(**base, status=PROBLEM, title=_("%(domain)s has several SPF records", domain=domain),
                           detail=" | ".join(records),
                           fix=_("Ask whoever manages the domain's DNS to merge them into one record."))
    return CheckResult(**base, status=PROBLEM, title=_("%(domain)s has no SPF record", domain=domain),
                       detail=_("Receivers cannot tell which servers may send for this domain and treat its mail as suspicious."),
                       fix=_("Ask whoever manages the domain's DNS to publish the SPF record the mail provider gives (a TXT record starting with v=spf1)."))


def check_dkim(ctx: CheckContext) -> CheckResult:
    base = dict(check="dkim", area="spam")
    domain = sender_domain(ctx.settings)
    if domain is None:
        return _no_sender(base)
    found = []
    try:
        for selector in DKIM_SELECTORS:
            records = ctx.dns.txt(f"{selector}._domainkey.{domain}")
            if any("v=dkim1" in r.lower() or "p=" in r.lower() for r in records):
                found.append(selector)
    except DnsUnavailable as exc:
        return _dns_unknown(base, "DKIM", str(exc))
    if found:
        return CheckResult(**base, status=OK, title=_("%(domain)s has a DKIM key", domain=domain),
                           detail=_("Selectors: %(selectors)s", selectors=", ".join(found)))
    return CheckResult(**base, status=PROBLEM, title=_("No DKIM key of %(domain)s under the usual selectors", domain=domain),
                       detail=_("Looked up: %(selectors)s. The provider may use another selector: the DKIM-Signature header (s=) of a received email shows it.",
                                selectors=", ".join(DKIM_SELECTORS)),
                       fix=_("Turn DKIM signing on at the mail provider and publish the key it gives in the domain's DNS."))


def check_dmarc(ctx: CheckContext) -> CheckResult:
    base = dict(check="dmarc", area="spam")
    domain = sender_domain(ctx.settings)
    if domain is None:
        return _no_sender(base)
    try:
        records = [r for r in ctx.dns.txt(f"_dmarc.{domain}") if r.lower().startswith("v=dmarc1")]
    except DnsUnavailable as exc:
        return _dns_unknown(base, "DMARC", str(exc))
    if records:
        return CheckResult(**base, status=OK, title=_("%(domain)s has a DMARC policy", domain=domain), detail=records[0])
    return CheckResult(**base, status=PROBLEM, title=_("%(domain)s has no DMARC policy", domain=domain),
                       detail=_("Large mailbox providers file mail of domains without DMARC as spam more often."),
                       fix=_("Ask whoever manages the domain's DNS to publish a TXT record at _dmarc.%(domain)s, for example v=DMARC1; p=none", domain=domain))


def check_sender_domain(ctx: CheckContext) -> CheckResult:
    base = dict(check="sender_domain", area="spam")
    try:
        sender = sender_identity(ctx.settings)  # the one rule every message is built with
    except NoSenderAddress:
        return _no_sender(base)
    if sender.source == "agency_email":
        return CheckResult(**base, status=OK, title=_("Mail goes out from the agency address"))
    if sender.source == "login":
        return CheckResult(**base, status=OK, title=_("Mail goes out from the login mailbox itself"))
    login = ctx.settings.login.strip().lower()
    if "@" not in login:
        return CheckResult(**base, status=UNKNOWN, title=_("Could not compare the sender with the login"),
                           detail=_("The login is not an email address."))
    sender_part, login_part = sender.domain, login.rpartition("@")[2].rstrip(".")
    if sender_part == login_part:
        return CheckResult(**base, status=OK, title=_("The sender address is in the login's domain %(domain)s", domain=login_part))
    return CheckResult(**base, status=PROBLEM,
                       title=_("The sender address (%(sender)s) is not in the login's domain (%(login)s)", sender=sender_part, login=login_part),
                       detail=_("Many providers, mail.ru among them, refuse such mail or it fails SPF and DMARC at the receiver."),
                       fix=_("Leave the sender address empty, or use an address of the login's domain."),
                       link=_settings_link("sender_address"))


def check_spam_rejections(ctx: CheckContext) -> CheckResult:
    count = _count(_rows_since(ctx.agency.id, ctx.now - WINDOW).where(OutboxEmail.hint_code == "rejected_as_spam"))
    base = dict(check="spam_rejections", area="spam")
    if not count:
        return CheckResult(**base, status=OK, title=_("No emails were rejected as spam in the last 30 days"))
    hint = hint_for("rejected_as_spam")
    return CheckResult(**base, status=PROBLEM,
                       title=_("%(count)d emails were rejected as spam in the last 30 days", count=count),
                       detail=str(hint.detail), fix=str(hint.fix), link=_log_link(ctx, WINDOW, status="failed"))


# 5. Duplicates (S12) -------------------------------------------------------------------------

def check_copies(ctx: CheckContext) -> CheckResult:
    """S12 now that the agency address hears of booking events itself (S14): copies go with
    client emails only, so what arrives twice is a booking event at the agency's own mailbox."""
    copies, own = ctx.settings.copies_email.strip(), ctx.settings.agency_email.strip()
    base = dict(check="copies", area="duplicates")
    if not copies:
        return CheckResult(**base, status=OK, title=_("No copies address: every notification is sent once"))
    if copies.lower() == own.lower():
        if not ctx.settings.agency_notifications_on:
            return CheckResult(**base, status=OK,
                               title=_("Copies go to the agency's own address %(email)s", email=copies),
                               detail=_("The agency notifications of booking events are off, so each client email arrives there once, as its copy."),
                               link=_settings_link("copies_email"), action="clear_copies")
        return CheckResult(**base, status=PROBLEM,
                           title=_("Copies go to the agency's own address %(email)s", email=copies),
                           detail=_("For every booking event (new booking, issued, cancelled, changed, payment received) this mailbox gets two emails: the agency's own notification and the hidden copy of the client's email. Registration confirmations and reminders to clients arrive there once, as copies."),
                           fix=_("Clear the copies address to keep only the agency's notifications, or switch the agency notifications off under “Booking notifications” in the mail settings to keep only the copies."),
                           link=_settings_link("copies_email"), action="clear_copies")
    return CheckResult(**base, status=OK, title=_("Copies of every notification go to %(email)s", email=copies),
                       detail=_("That mailbox gets a hidden copy of every client email; the agency address gets only its own notifications. If that mailbox also receives the agency address's mail (a forward), each booking event arrives there twice: clear the copies address."),
                       link=_settings_link("copies_email"), action="clear_copies")


# Documents (S15) ------------------------------------------------------------------------------

def check_refused_documents(ctx: CheckContext) -> CheckResult:
    """Events the API refused for their documents: the client got none of that event's emails."""
    refused = refusals_since(ctx.agency.id, ctx.now - WINDOW)
    base = dict(check="refused_documents", area="documents")
    if not refused:
        return CheckResult(**base, status=OK,
                           title=_("No booking event was refused for its documents in the last 30 days"))
    return CheckResult(**base, status=PROBLEM,
                       title=_("%(count)d booking events were refused for their documents in the last 30 days", count=refused),
                       detail=_("Their emails were not sent. An event may carry at most %(files)d documents, 10 MB in all, each a PDF, PNG or JPEG file named without a path.", files=MAX_DOCUMENTS),
                       fix=_("Ask the booking engine's developers to send the documents within these limits (the API's answer names the document at fault), then send the event again."),
                       link=Link("api_access.access", _("Open the API access page")))


# 6. "e-mail not saved" (S10) -----------------------------------------------------------------

def check_outgoing_host(ctx: CheckContext) -> CheckResult:
    relay_refusals = _count(_rows_since(ctx.agency.id, ctx.now - WINDOW).where(OutboxEmail.hint_code == "relay_denied"))
    run = last_run(ctx.agency.id)
    hint = hint_for("relay_denied", ehlo_name=ctx.ehlo_name)
    base = dict(check="outgoing_host", area="host", fix=str(hint.fix), link=_settings_link("login"))
    if relay_refusals or (run and run.hint_code == "relay_denied"):
        return CheckResult(**base, status=PROBLEM,
                           title=_("The provider refuses to pass on mail from %(host)s", host=ctx.ehlo_name),
                           detail=str(hint.detail))
    return CheckResult(**base, status=OK, title=_("This installation sends from the host %(host)s", host=ctx.ehlo_name),
                       detail=_("If the provider answers \"e-mail not saved\", it must allow sending from this host."))


CHECKS = (check_last_test, check_connection_failures, check_sending_pause, check_too_late, check_daily_limit,
          check_templates,
          check_agency_address, check_sender_identity, check_admin_addresses, check_payment_address, check_spf,
          check_dkim, check_dmarc, check_sender_domain, check_spam_rejections, check_copies, check_outgoing_host,
          check_refused_documents)

AREAS = {
    "connection": _l("Connection"),
    "templates": _l("Templates"),
    "addresses": _l("Addresses"),
    "spam": _l("Spam and format"),
    "duplicates": _l("Duplicates"),
    "host": _l("The host this installation sends from"),
    "documents": _l("Documents"),
}
