"""Running the application on uvicorn: the listening socket, one process or several, Ctrl-C.

The socket is bound (not yet listening) before the model loads, so a port in use is reported
at once and no other program can take the port meanwhile; uvicorn starts listening on it once
the application is ready. With one worker the application is built here, around the model the
caller loaded. With ``workers`` above 1, uvicorn's process manager starts that many processes
sharing the socket; each imports :func:`app_from_environment` by name and builds its own
application and model from the :class:`~refineseg.serve.config.ServeConfig` that
:func:`serve` put into the environment (the workers are new processes, not forks, so nothing
else would reach them). uvicorn restarts a worker that dies; the supervisor logs each death
on stderr, with its cause (``worker 1234 was killed by SIGKILL``): the requests that worker
was answering got no answer, and nothing else would say why.

Connections are bounded by uvicorn's own settings: ``timeout_keep_alive`` (with
:class:`~refineseg.serve.connections.H11Protocol`, from the moment a connection opens),
``limit_concurrency`` and h11's limit on the size of a request head.
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import ipaddress
import logging
import signal
import socket
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI

from ._text import host_port
from .app import create_app
from .config import API_KEY_ENV, ServeConfig
from .connections import MAX_REQUEST_HEAD_BYTES, H11Protocol

if TYPE_CHECKING:
    from ..inference.segmenter import Segmenter

__all__ = ["app_for", "app_from_environment", "bind", "serve", "server_url", "uvicorn_config"]

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
    and it does not trust ``X-Forwarded-*`` headers. Connections run on
    :class:`~refineseg.serve.connections.H11Protocol`: one that sends no whole request head
    within ``config.timeout_keep_alive`` seconds is closed; beyond ``config.limit_concurrency``
    connections, requests are answered 503.

    Args:
        app: The application, or an import string (with ``factory=True`` for a factory).
        config: The options (workers, host and port for uvicorn's messages, connection limits).
        **options: More :class:`uvicorn.Config` arguments, or other values for these.

    Returns:
        The uvicorn config.
    """
    settings: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "workers": config.workers,
        "http": H11Protocol,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "timeout_keep_alive": config.timeout_keep_alive,
        "limit_concurrency": config.limit_concurrency,
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
    }
    return uvicorn.Config(app, **{**settings, **options})


def app_for(config: ServeConfig, segmenter: Segmenter) -> FastAPI:
    """The application of ``config`` around a loaded model.

    Args:
        config: The options.
        segmenter: The model.

    Returns:
        The application, with the config's limits, host names and API key.
    """
    return create_app(
        segmenter,
        max_upload_bytes=config.max_upload_bytes,
        max_pixels=config.max_pixels,
        quiet=config.quiet,
        max_inference_pixels=config.max_inference_pixels,
        max_queue=config.max_queue,
        allowed_hosts=config.hosts(),
        api_key=config.api_key,
    )


def app_from_environment() -> FastAPI:
    """The application of one worker process: the config from the environment, a model of its own.

    Returns:
        The application.

    Raises:
        ValueError: If the environment holds no valid config.
    """
    config = ServeConfig.from_environment()
    return app_for(config, config.load_segmenter())


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
        address = sock.getsockname()[0]
        if _reachable_from_other_machines(address):
            print(_exposed_warning(address, config), file=sys.stderr, flush=True)
        if config.workers == 1:
            uvicorn.Server(uvicorn_config(app_for(config, segmenter), config)).run(sockets=[sock])
        else:
            config.to_environment()
            with _worker_deaths_logged():
                _supervisor(uvicorn_config(FACTORY, config, factory=True), sock).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("stopped", flush=True)


def _exposed_warning(address: str, config: ServeConfig) -> str:
    hosts = ", ".join(config.hosts())
    reach = f"warning: listening on {address}, so the page and API are reachable from other machines on the network"
    names = f"; it answers to the host names {hosts} (add the names clients use with --allowed-hosts)"
    if config.api_key is None:
        return (
            f"{reach}, without any authentication{names}; require a key with --api-key-file FILE "
            f"(or the environment variable {API_KEY_ENV})"
        )
    return f"{reach}; the API needs the key{names}"


def _supervisor(config: uvicorn.Config, sock: socket.socket) -> Any:
    """uvicorn's manager of worker processes, whichever of its two signatures this uvicorn has."""
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        """uvicorn's supervisor, saying why a worker died before uvicorn replaces it."""

        def keep_subprocess_alive(self) -> None:
            # read after uvicorn's pass, which joins what it replaces: a worker that dies while
            # the pass runs is seen too (a check before it missed such a worker under load)
            before = list(self.processes)
            dead_before = {id(p) for p in before if p.process.exitcode is not None}
            super().keep_subprocess_alive()
            for process in before:
                if process not in self.processes and process.process.exitcode is not None:
                    # alive before the pass and SIGKILLed after: maybe uvicorn's own kill of a hung worker
                    hung = id(process) not in dead_before and process.process.exitcode == -signal.SIGKILL
                    _log_worker_death(process.pid, process.process.exitcode, maybe_hung=hung)

    supervisor: Any = Supervisor if hasattr(Multiprocess, "keep_subprocess_alive") else Multiprocess
    if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn before its worker restarts
        return supervisor(config, target=uvicorn.Server(config).run, sockets=[sock])
    return supervisor(config, sockets=[sock])


def _log_worker_death(pid: int | None, exitcode: int, *, maybe_hung: bool = False) -> None:
    if exitcode < 0:
        try:
            cause = f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            cause = f"was killed by signal {-exitcode}"
    else:
        cause = f"exited with status {exitcode}"
    if maybe_hung:
        cause += " (by another process, or by uvicorn when it stopped answering its health check)"
    print(
        f"{time.strftime('%H:%M:%S')} refineseg serve: worker {pid} {cause}; the requests it was answering got no "
        "answer; uvicorn started another",
        file=sys.stderr,
        flush=True,
    )


class _SupervisorRecords(logging.Filter):
    """What the supervisor's log shows: uvicorn's warnings and errors, and its lines on dead workers."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "died" in record.getMessage()


@contextlib.contextmanager
def _worker_deaths_logged() -> Iterator[None]:
    """uvicorn's supervisor logs a dead worker at INFO level, which refineseg's unconfigured logging
    would drop: while it runs, such lines (and uvicorn's warnings) go to stderr."""
    logger = logging.getLogger("uvicorn.error")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s uvicorn: %(message)s", datefmt="%H:%M:%S"))
    handler.addFilter(_SupervisorRecords())
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _reachable_from_other_machines(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return True
