"""The hotline's domain errors: each carries a stable `error_id` and a default message.

The web middleware maps them to `{error_id, message, details}` and owns the HTTP statuses.
"""

import inspect
from collections.abc import Iterable


class HotlineError(Exception):
    """Something went wrong in the hotline service."""

    error_id = "hotline_error"

    def __init__(self, message: str | None = None, **details: object) -> None:
        # The class docstring doubles as the default message, so a subclass is one
        # docstring and one error_id (procrastinate's exceptions.py does the same).
        if message is None:
            message = (inspect.getdoc(type(self)) or type(self).__name__).partition("\n")[0]
        self.message = message
        self.details = details
        super().__init__(message)


class ConfigError(HotlineError):
    """The configuration is not valid."""

    error_id = "config_invalid"

    def __init__(self, problems: Iterable[str], message: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(message, problems=self.problems)

    def __str__(self) -> str:
        # Every problem on its own line, so one start-up shows the whole list to fix.
        return "\n".join(self.problems) if self.problems else self.message


class NotFound(HotlineError):
    """The requested item does not exist."""

    error_id = "not_found"


class BadRequest(HotlineError):
    """The request is not valid."""

    error_id = "bad_request"
