"""The agency's staff: who can sign in, and their profiles."""
