"""Notifications: the outbox, email over SMTP, SMS providers, in-app messages."""
