"""The outbox: queueing notification emails with the events that cause them, and sending them."""
