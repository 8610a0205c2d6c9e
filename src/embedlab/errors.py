"""The one exception type for user mistakes: printed as a single line, never as a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: what was wrong, where, and what was expected, in one line."""
