"""Running the application on uvicorn: the listening socket, one process or several, Ctrl-C.

The socket is bound (not yet listening) before the model loads, so a port in use is reported
at once and no other program can take the port meanwhile; uvicorn starts listening on it once
the application is ready. With one worker the application is built here, around the model the
caller loaded. With ``workers`` above 1, uvicorn's process manager starts that many processes
sharing the socket; each imports :func:`app_from_environment` by name and builds its own
application and model from the :class:`~refineseg.serve.config.ServeConfig` that
:func:`serve` put into the environment (the workers are new processes, not forks, so nothing
else would reach them).
"""

from __future__ import annotations

import errno
import inspect
import ipaddress
import socket
import sys
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI

from ._text import host_port
from .app import create_app
from .config import ServeConfig

if TYPE_CHECKING:
    from ..inference.segmenter import Segmenter

__all__ = ["app_from_environment", "bind", "serve", "server_url", "uvicorn_config"]

# after Ctrl-C, how long open connections may take to finish before they are cut
GRACEFUL_SHUTDOWN_S = 5
FACTORY = f"{__name__}:app_from_environment"


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, for :func:`serve` (listening starts when serving does).

    Args:
        host: The address; one with ``:`` is IPv6.
        port: The port; 0 picks a free one (``sock.getsockname()[1]`` says which).

    Returns:
        The bound socket, inheritable by worker processes.

    Raises:
        ValueError: If ``port`` is out of range.
        OSError: For a port in use or an unknown host; the message names ``host:port``.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range; expected 0 to 65535")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait for TIME_WAIT
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason += " (another program listens there; pick another --port)"
        raise OSError(f"cannot listen on {host_port(host, port)}: {reason}") from None
    sock.set_inheritable(True)
    return sock


def server_url(sock: socket.socket) -> str:
    """Where a browser on this machine finds the page (loopback when listening on all interfaces).

    Args:
        sock: The bound socket.

    Returns:
        ``http://HOST:PORT/``.
    """
    host, port = sock.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://{host_port(host, port)}/"


def uvicorn_config(app: Any, config: ServeConfig, **options: Any) -> uvicorn.Config:
    """The uvicorn settings ``refineseg serve`` runs with.

    uvicorn's own logging is left unconfigured (its warnings still reach stderr; the
    application writes the per-request lines), it sends no ``Server`` header of its own,
    and it does not trust ``X-Forwarded-*`` headers.

    Args:
        app: The application, or an import string (with ``factory=True`` for a factory).
        config: The options (workers, host and port for uvicorn's messages).
        **options: More :class:`uvicorn.Config` arguments.

    Returns:
        The uvicorn config.
    """
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        workers=config.workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        **options,
    )


def app_from_environment() -> FastAPI:
    """The application of one worker process: the config from the environment, a model of its own.

    Returns:
        The application.

    Raises:
        ValueError: If the environment holds no valid config.
    """
    config = ServeConfig.from_environment()
    return create_app(
        config.load_segmenter(),
        max_upload_bytes=config.max_upload_bytes,
        max_pixels=config.max_pixels,
        quiet=config.quiet,
    )


def serve(config: ServeConfig, segmenter: Segmenter, sock: socket.socket) -> None:
    """Serve until Ctrl-C, printing the URL first; returns normally when interrupted.

    A warning goes to stderr when the server is reachable from other machines. The socket is
    closed on return.

    Args:
        config: The options.
        segmenter: The loaded model: served with one worker; with more, it only names the model
            in the first line (each worker loads its own from ``config``).
        sock: What :func:`bind` returned.
    """
    model = str(getattr(segmenter.model, "arch", type(segmenter.model).__name__))
    workers = f" with {config.workers} workers" if config.workers > 1 else ""
    try:
        print(
            f"serving {model} ({segmenter.num_classes} classes) at {server_url(sock)}{workers}  (Ctrl-C stops)",
            flush=True,
        )
        if _reachable_from_other_machines(sock.getsockname()[0]):
            print(
                f"warning: listening on {sock.getsockname()[0]}, so the page and API are reachable from other "
                "machines on the network, without any authentication",
                file=sys.stderr,
                flush=True,
            )
        if config.workers == 1:
            app = create_app(
                segmenter, max_upload_bytes=config.max_upload_bytes, max_pixels=config.max_pixels, quiet=config.quiet
            )
            uvicorn.Server(uvicorn_config(app, config)).run(sockets=[sock])
        else:
            config.to_environment()
            _supervisor(uvicorn_config(FACTORY, config, factory=True), sock).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("stopped", flush=True)


def _supervisor(config: uvicorn.Config, sock: socket.socket) -> Any:
    """uvicorn's manager of worker processes, whichever of its two signatures this uvicorn has."""
    from uvicorn.supervisors import Multiprocess

    supervisor: Any = Multiprocess
    if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn before its worker restarts
        return supervisor(config, target=uvicorn.Server(config).run, sockets=[sock])
    return supervisor(config, sockets=[sock])


def _reachable_from_other_machines(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return True
