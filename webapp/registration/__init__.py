"""Client-facing registration pages: the demo registration form and the confirmation link (S4)."""
