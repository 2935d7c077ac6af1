"""RQ entry points only: each opens an app context and calls a portal operation."""
