"""Notifications: the outbox and its delivery by email over SMTP or an SMS provider.

Steps notify by email only; the outbox also accepts SMS and in-app rows, which no step writes yet."""
