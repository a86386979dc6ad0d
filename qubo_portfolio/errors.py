"""The one exception type users see for bad input."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input or configuration.

    The message is one line that names the problem and the fix. The CLI prints it to
    stderr and exits with code 2 (no traceback unless ``--debug``).
    """
