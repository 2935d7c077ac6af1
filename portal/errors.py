"""Domain errors: operations raise them, the web layer turns them into pages and codes."""


class DomainError(Exception):
    """A rule was broken; `message` is shown to the user as is (Chinese)."""
    status = 400

    def __init__(self, message: str, field_errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class ValidationError(DomainError):
    status = 400


class PermissionDenied(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The record changed since the form was loaded, or is no longer in the expected state."""
    status = 409
