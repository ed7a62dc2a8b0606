"""Bounces: reading delivery failure reports back from the sending mailbox over IMAP."""
