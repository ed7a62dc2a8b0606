"""The troubleshooting centre: checks of why notifications do not arrive (S11) or arrive twice (S12)."""
