"""The home page, the navigation, and placeholders for sections still to come."""
