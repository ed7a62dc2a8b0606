"""The catalogue of bounce reasons: what the recipient's server said, in words, and who must act."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import LazyString, lazy_gettext as _l

# Who must act: the agency (fix the client's address, ask the client), the client's side, or
# whoever runs the sending mailbox and its domain (the provider, DNS records).
AGENCY, RECIPIENT, SENDER = "agency", "recipient", "sender"
WHO_TITLES = {
    AGENCY: _l("the agency (check the address with the client)"),
    RECIPIENT: _l("the client or the client's mail provider"),
    SENDER: _l("whoever runs the sending mailbox and its domain"),
}


@dataclass(frozen=True)
class BounceReason:
    code: str
    title: LazyString
    fix: LazyString
    who: str
    # The address itself is wrong or dead: the next email to it is flagged.
    address_is_bad: bool = False


CATALOGUE: dict[str, BounceReason] = {reason.code: reason for reason in (
    BounceReason("no_such_user", _l("The mailbox does not exist"),
                 _l("The recipient's server says there is no such mailbox: the address is probably mistyped "
                    "or no longer used. Check it with the client and correct it in the booking."),
                 AGENCY, address_is_bad=True),
    BounceReason("no_such_domain", _l("The address's domain does not exist"),
                 _l("The part after @ has no mail server: the address is mistyped. Check it with the client "
                    "and correct it in the booking."),
                 AGENCY, address_is_bad=True),
    BounceReason("mailbox_disabled", _l("The mailbox is disabled"),
                 _l("The client's mailbox is blocked or closed by their provider. Ask the client for another "
                    "address."),
                 AGENCY, address_is_bad=True),
    BounceReason("mailbox_full", _l("The client's mailbox is full"),
                 _l("The client's mailbox is over its quota. Tell the client (by phone) to free space; "
                    "send the email again later."),
                 RECIPIENT),
    BounceReason("authentication", _l("Refused: the sender's domain failed SPF/DKIM/DMARC"),
                 _l("The recipient's provider did not trust the sender's domain. Open the troubleshooting "
                    "page and fix the SPF, DKIM and DMARC records of the sender's domain, or send from the "
                    "provider's own address."),
                 SENDER),
    BounceReason("spam", _l("Refused as spam or by the recipient's policy"),
                 _l("The recipient's provider blocked the message (spam filter, block list, policy). Check "
                    "the sending host and the texts on the troubleshooting page; ask the client to add the "
                    "sender address to their contacts."),
                 SENDER),
    BounceReason("too_large", _l("The message is too large for the recipient"),
                 _l("The recipient's server refused the size of the message. Make the template smaller."),
                 SENDER),
    BounceReason("expired", _l("Gave up: the recipient's server did not accept it in time"),
                 _l("The provider could not reach the recipient's server for days. The client's domain "
                    "may be broken: check the address with the client."),
                 RECIPIENT),
    BounceReason("other", _l("Returned by the recipient's server"),
                 _l("Read the server's reply below; if it names the address, check it with the client."),
                 RECIPIENT),
)}

# RFC 3463 codes that say it by themselves.
_BY_STATUS = {
    "5.1.1": "no_such_user", "5.1.10": "no_such_user", "5.1.0": "no_such_user", "5.1.6": "no_such_user",
    "5.1.2": "no_such_domain", "5.4.4": "no_such_domain", "5.1.3": "no_such_user",
    "5.2.1": "mailbox_disabled", "5.2.2": "mailbox_full", "4.2.2": "mailbox_full",
    "5.2.3": "too_large", "5.3.4": "too_large", "4.4.7": "expired", "5.4.7": "expired",
    "5.7.23": "authentication", "5.7.25": "authentication", "5.7.26": "authentication",
    "5.7.27": "authentication", "5.7.509": "authentication", "5.7.515": "authentication",
}
# For replies without a telling code, the words providers use (Russian ones too).
_BY_WORDS = (
    ("authentication", r"dmarc|\bspf\b|dkim|unauthenticated|not authenticated"),
    ("no_such_domain", r"host or domain name not found|domain not found|unrouteable|no mx|nxdomain"
                       r"|name service error|домен не найден"),
    ("mailbox_full", r"quota|mailbox (is )?full|over ?quota|insufficient storage|переполнен"),
    ("mailbox_disabled", r"disabled|inactive|suspended|is blocked|заблокирован|отключ"),
    ("no_such_user", r"user unknown|unknown user|no such (user|mailbox|recipient)|does not exist|doesn't exist"
                     r"|user not found|invalid mailbox|recip(ient)?notfound|address rejected|not found"
                     r"|нет такого|не существует"),
    ("spam", r"spam|block ?list|blacklist|reputation|rejected|policy|blocked|5\.7\.\d"),
    ("too_large", r"too large|size limit|message size"),
    ("expired", r"expired|retry time|too long in queue"),
)


def classify(status: str, diagnostic: str) -> str:
    code = _BY_STATUS.get(status)
    if code:
        return code
    text = f"{status} {diagnostic}".lower()
    for code, pattern in _BY_WORDS:
        if re.search(pattern, text):
            return code
    return "other"


def reason_for(code: str) -> BounceReason:
    return CATALOGUE.get(code, CATALOGUE["other"])
