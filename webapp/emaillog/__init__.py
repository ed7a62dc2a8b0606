"""The email log: every notification with its status, attempts and the server's last reply."""
