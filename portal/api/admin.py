"""Admin pages for integration tokens (/admin/api-tokens). Thin: portal.api.tokens does the work."""
from __future__ import annotations
