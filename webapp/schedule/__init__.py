"""The periodic rules (S4, S5, S6) that `rq cron` runs every minute, and their status for operators."""
