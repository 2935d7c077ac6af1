"""Time limits: policies per class and step, calendars, due-time arithmetic."""
