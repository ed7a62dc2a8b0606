"""Liveness of the parts the site depends on."""
