"""Outbound webhooks (issue 14): an admin registers URLs per event; each event becomes one
outbox row per subscribed endpoint, written in the transaction of the change, and is POSTed
signed (portal/webhooks/signing.py) by the outbox's workers with its retries."""
