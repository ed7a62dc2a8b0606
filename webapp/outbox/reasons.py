"""Why an outbox row is skipped, failed, waiting or unknown: stored as a code, shown in words."""
from flask_babel import lazy_gettext as _l

NO_TEMPLATE = "no_template"
NO_RECIPIENT = "no_recipient"
TOO_LATE = "too_late"
REFUSED = "refused"
GAVE_UP = "gave_up"
WILL_RETRY = "will_retry"
CONNECTION_LOST_AFTER_DATA = "connection_lost_after_data"
RESENT = "resent"
INVALID_ADDRESS = "invalid_address"
NO_LONGER_NEEDED = "no_longer_needed"
WORKER_LOST_IN_FLIGHT = "worker_lost_in_flight"
WORKER_LOST_RECORD = "worker_lost_record"
SETTINGS_FAILING = "settings_failing"
SENDING_PAUSED = "sending_paused"
TEMPLATE_FAILED = "template_failed"
UNSAFE_HEADER = "unsafe_header"
WAITING_FOR_LIMIT = "waiting_for_limit"

TITLES = {
    NO_TEMPLATE: _l("No template: the template of this kind is missing or disabled"),
    NO_RECIPIENT: _l("No recipient address"),
    TOO_LATE: _l("Too late: the moment it was about has passed"),
    REFUSED: _l("Refused by the mail server"),
    GAVE_UP: _l("Gave up after temporary failures"),
    WILL_RETRY: _l("Temporary failure, will retry"),
    CONNECTION_LOST_AFTER_DATA: _l("Connection lost after the message was sent; it may have arrived"),
    RESENT: _l("Resent by an administrator"),
    INVALID_ADDRESS: _l("The address cannot be written in an email"),
    TEMPLATE_FAILED: _l("The template could not be filled in with this email's data (for example, "
                        "a control character bound for the subject): check the template"),
    UNSAFE_HEADER: _l("The sender name, an address or the subject holds a control character: "
                      "check the mail settings and the template"),
    NO_LONGER_NEEDED: _l("No longer needed: the order changed before it was sent"),
    WORKER_LOST_IN_FLIGHT: _l("The sending process stopped while the message was with the server; "
                              "it may have arrived, and is sent once more"),
    WORKER_LOST_RECORD: _l("The sending process stopped and Redis lost its record of the batch; "
                           "the message may have arrived, and is sent once more"),
    SETTINGS_FAILING: _l("Waiting: the mail server refused the agency's settings; tried again in "
                         "a few minutes, and sending pauses if it fails again"),
    SENDING_PAUSED: _l("Waiting: sending is paused until the mail server takes the agency's "
                       "settings again"),
    WAITING_FOR_LIMIT: _l("Waiting for the sending limit of the agency's mailbox; goes at"),
}
