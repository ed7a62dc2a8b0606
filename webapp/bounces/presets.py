"""The IMAP servers of the providers whose SMTP presets the mail settings offer (each provider's
published mail-program settings); the same app password works for both."""

from webapp.mailsettings.presets import preset_for_host

# preset key -> (IMAP host, port, security)
IMAP_FOR_PRESET = {
    "yandex": ("imap.yandex.ru", 993, "tls"),
    "mailru": ("imap.mail.ru", 993, "tls"),
    "rambler": ("imap.rambler.ru", 993, "tls"),
    "gmail": ("imap.gmail.com", 993, "tls"),
    "outlook": ("outlook.office365.com", 993, "tls"),
}


def imap_for_smtp_host(smtp_host: str | None) -> tuple[str, int, str] | None:
    preset = preset_for_host(smtp_host)
    return IMAP_FOR_PRESET.get(preset.key) if preset else None
