"""Errors a user can cause, each carrying one clear sentence.

Every error the tool raises on purpose derives from :class:`AutoRecError`; a subclass also
inherits the matching built-in exception so that ordinary ``except ValueError`` handlers work.
The CLI turns any ``AutoRecError`` into one line on stderr and exit code 2.
"""

from __future__ import annotations


class AutoRecError(Exception):
    """Base of every error the tool raises on purpose."""


class DataValidationError(AutoRecError, ValueError):
    """The input data cannot be used as it is (missing file, bad columns, too little data...)."""


class ConfigurationError(AutoRecError, ValueError):
    """An argument or option is invalid (unknown family, budget of zero, bad metric...)."""


class SearchSpaceError(AutoRecError, ValueError):
    """A search-space file is malformed."""


class NotFittedError(AutoRecError, ValueError, AttributeError):
    """A method that needs a fitted object was called before ``fit``."""


class SearchFailedError(AutoRecError, RuntimeError):
    """Every candidate failed, so there is nothing to select."""
