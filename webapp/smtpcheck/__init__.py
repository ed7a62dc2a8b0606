"""The "send test email" check and the SMTP connection layer the notification senders reuse."""
