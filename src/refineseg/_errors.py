"""An exception's message as one line, for errors refineseg re-raises in its own words.

Libraries' messages often span several lines (the Hugging Face Hub's, ONNX Runtime's, PyTorch's
loaders'); refineseg's errors quote only the first. A leaf module: it imports nothing.
"""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, stripped.

    Args:
        exc: Any exception.

    Returns:
        That line, or the exception's type name when the message is empty.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
