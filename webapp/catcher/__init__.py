"""The development mail catcher: an SMTP server that keeps what it receives, and its inbox page."""
