"""Organisation: units (headquarters departments and branches in one tree) and people."""
