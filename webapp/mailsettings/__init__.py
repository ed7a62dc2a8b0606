"""An agency's mail settings page: the SMTP connection and notification options (S1, S2, S4-S9)."""
