"""Reminders and the escalation ladder (PROCEDURES.md §5): what a step's time limit sets off."""
