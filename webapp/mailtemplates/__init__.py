"""Email templates (S13): each agency's editable texts of its notifications, and their rendering."""
