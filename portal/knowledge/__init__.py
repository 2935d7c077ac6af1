"""Typical cases (典型案例): closed cases kept with lessons learned, for all staff to read."""
