"""Short texts the server writes: sizes, clipped client input, ``host:port``; shared by its modules."""

from __future__ import annotations

from ..constants import MB


def size(n: int) -> str:
    """A byte count as people read it: ``512 B``, ``1.5 kB``, ``20 MB``.

    Args:
        n: The number of bytes.

    Returns:
        The size with its unit.
    """
    if n < 1024:
        return f"{n} B"
    value, unit = (n / 1024, "kB") if n < MB else (n / MB, "MB")
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def clip(text: str, n: int) -> str:
    """``text`` cut to at most ``n`` characters, an ellipsis marking the cut.

    Args:
        text: What a client sent (a path, a header value).
        n: The longest result.

    Returns:
        The text, or its first ``n - 1`` characters and ``…``.
    """
    return text if len(text) <= n else text[: n - 1] + "…"


def printable(text: str) -> str:
    """``text`` with every non-printable character replaced by ``?`` (for log lines).

    Args:
        text: Any text.

    Returns:
        The text, safe to print on one line.
    """
    return "".join(c if c.isprintable() else "?" for c in text)


def host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets.

    Args:
        host: An address or host name.
        port: The port.

    Returns:
        ``127.0.0.1:8000`` or ``[::1]:8000``.
    """
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def too_large(limit: int, length: int | None = None) -> str:
    """The message of a 413 for an upload over ``limit`` bytes.

    Args:
        limit: The most bytes accepted.
        length: The upload's size when known (its ``Content-Length``); ``None`` for a streamed
            upload cut at the limit.

    Returns:
        One sentence for the client.
    """
    if length is None:
        return f"the upload is more than the limit of {size(limit)}"
    return f"the upload is {size(length)}, more than the limit of {size(limit)}"
