"""Events from the booking engine: registrations, orders, their changes and payment problems."""
