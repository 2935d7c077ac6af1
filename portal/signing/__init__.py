"""Signatures (re-authenticated, content-hashed, frozen) and the hash-chained audit trail."""
