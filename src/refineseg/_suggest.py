"""``did you mean ...?``: the closest of the known names to a mistyped one, for error messages.

A leaf module (it imports nothing of refineseg), shared by the command line's parser (every
option's choices and the command names) and the library's name lookups (weights names).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(value: object, choices: Iterable[object]) -> str:
    """``"did you mean 'camvid'?"`` for the choice closest to ``value``, or ``""`` when none is close.

    Closeness is :func:`difflib.get_close_matches`' ratio (at least 0.6), on the names as text.

    Args:
        value: What was given (``"camvdi"``).
        choices: What is accepted.

    Returns:
        The suggestion, or an empty string.
    """
    import difflib

    names = [str(choice) for choice in choices]
    matches = difflib.get_close_matches(str(value), names, n=1)
    if not matches:  # a different case only ("FP32"), which difflib's ratio does not forgive
        matches = [name for name in names if name.lower() == str(value).lower()][:1]
    return f"did you mean {matches[0]!r}?" if matches else ""
