"""Agencies, the tenants of the installation."""
