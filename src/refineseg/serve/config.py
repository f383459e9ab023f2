"""What ``refineseg serve`` runs with: the model's options, the address, the workers and the limits.

One frozen :class:`ServeConfig` holds them. With ``--workers N`` above 1, uvicorn starts the
workers as fresh processes that import the app by name, so they cannot be handed a Python
object: the command writes the config as JSON into the environment variable
:data:`CONFIG_ENV`, which the workers inherit, and each worker's app factory
(:func:`refineseg.serve.run.app_from_environment`) reads it back and loads its own model.
This module imports nothing heavy (no torch, no FastAPI).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..constants import (
    DEFAULT_HOST,
    DEFAULT_LIMIT_CONCURRENCY,
    DEFAULT_MAX_INFERENCE_PIXELS,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_PORT,
    DEFAULT_TIMEOUT_KEEP_ALIVE_S,
    PRECISIONS,
)

if TYPE_CHECKING:
    from ..inference.segmenter import Segmenter

__all__ = ["API_KEY_ENV", "CONFIG_ENV", "LOCAL_HOSTS", "ServeConfig"]

CONFIG_ENV = "REFINESEG_SERVE_CONFIG"
# where `refineseg serve` looks for an API key when no option gives one
API_KEY_ENV = "REFINESEG_API_KEY"
# the names of this machine that no other site can take: always allowed as the Host
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
# addresses that mean "every interface": not a name a client sends as the Host
_WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]", ""}


@dataclass(frozen=True)
class ServeConfig:
    """The options of one ``refineseg serve``; checked when made.

    Attributes:
        weights: A ``.safetensors`` file or the name of shipped weights.
        device: Where the model runs (``cpu``, ``cuda``, ``cuda:1``, ...).
        precision: ``auto``, ``fp32``, ``bf16`` or ``int8``.
        backend: What runs the model (``auto``, ``pytorch``, ``onnxruntime``, ``openvino``), or
            ``None`` for the weights' default.
        calibration: The images that calibrate int8 (paths), or ``None``.
        host: The address to listen on.
        port: The port; 0 picks a free one.
        workers: How many server processes share the port (each loads the model).
        max_upload_bytes: Larger uploads are refused with 413.
        max_pixels: Larger images are refused with 413.
        quiet: Whether to leave out the per-request log lines.
        max_inference_pixels: The compute budget: larger images are shrunk to this many pixels
            before inference; 0 segments them at full resolution (in sliding windows above
            2048x1024).
        max_queue: How many requests may wait for the model beyond those being worked on;
            more are answered 503 with ``Retry-After``.
        timeout_keep_alive: Seconds a connection may take to send a whole request head, after
            it opened or after its last answer, before it is closed.
        limit_concurrency: Open connections (or requests in progress) beyond which requests
            are answered 503 at once.
        allowed_hosts: Host names the server answers to besides :data:`LOCAL_HOSTS` and
            ``host`` (``*.example.com`` patterns; ``*`` for any), or ``None``.
        api_key: The key ``/api/...`` requests must carry, or ``None``; left out of ``repr``.
    """

    weights: str = "camvid"
    device: str = "cpu"
    precision: str = "auto"
    backend: str | None = None
    calibration: tuple[str, ...] | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    quiet: bool = False
    max_inference_pixels: int = DEFAULT_MAX_INFERENCE_PIXELS
    max_queue: int = DEFAULT_MAX_QUEUE
    timeout_keep_alive: int = DEFAULT_TIMEOUT_KEEP_ALIVE_S
    limit_concurrency: int = DEFAULT_LIMIT_CONCURRENCY
    allowed_hosts: tuple[str, ...] | None = None
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range; expected 0 to 65535")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.max_upload_bytes <= 0:
            raise ValueError(f"max_upload_bytes must be positive, got {self.max_upload_bytes}")
        if self.max_pixels <= 0:
            raise ValueError(f"max_pixels must be positive, got {self.max_pixels}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        from ..inference.backends import BACKEND_CHOICES

        if self.backend is not None and self.backend not in BACKEND_CHOICES:
            raise ValueError(f"backend must be one of {', '.join(BACKEND_CHOICES)}, got {self.backend!r}")
        if not self.host.strip():
            raise ValueError("host must be an address such as 127.0.0.1 or 0.0.0.0")
        if self.max_inference_pixels < 0:
            raise ValueError(f"max_inference_pixels must be positive (or 0 for none), got {self.max_inference_pixels}")
        if self.max_queue < 0:
            raise ValueError(f"max_queue must be 0 or more, got {self.max_queue}")
        if self.timeout_keep_alive <= 0:
            raise ValueError(f"timeout_keep_alive must be positive, got {self.timeout_keep_alive}")
        if self.limit_concurrency < 1:
            raise ValueError(f"limit_concurrency must be at least 1, got {self.limit_concurrency}")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key must not be empty")
        if self.calibration is not None:
            object.__setattr__(self, "calibration", tuple(str(p) for p in self.calibration))
        if self.allowed_hosts is not None:
            object.__setattr__(
                self, "allowed_hosts", tuple(str(h).strip() for h in self.allowed_hosts if str(h).strip())
            )

    def hosts(self) -> tuple[str, ...]:
        """The host names the server answers to: :data:`LOCAL_HOSTS`, ``host`` and ``allowed_hosts``.

        Returns:
            The names, each once, in that order (``host`` left out where it means every interface).
        """
        names = [*LOCAL_HOSTS, self.host.strip().strip("[]"), *(self.allowed_hosts or ())]
        return tuple(dict.fromkeys(n.lower() for n in names if n.lower() not in _WILDCARD_HOSTS))

    def to_json(self) -> str:
        """The config as one line of JSON (what :meth:`from_json` reads).

        Returns:
            A JSON object with one key per field.
        """
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        """Read a config that :meth:`to_json` wrote.

        Args:
            text: A JSON object with the fields' names as keys (missing ones take their defaults).

        Returns:
            The config.

        Raises:
            ValueError: If the text is not such an object, names an unknown field, or holds a
                value out of range.
        """
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the serve config is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError("the serve config must be a JSON object")
        unknown = set(data) - {field.name for field in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"the serve config has unknown fields: {', '.join(sorted(unknown))}")
        for name in ("calibration", "allowed_hosts"):
            if data.get(name) is not None:
                data[name] = tuple(data[name])
        return cls(**data)

    def to_environment(self, environ: dict[str, str] | None = None) -> None:
        """Store the config in :data:`CONFIG_ENV` for worker processes to read.

        Args:
            environ: The environment to write to (default ``os.environ``, which child processes inherit).
        """
        (os.environ if environ is None else environ)[CONFIG_ENV] = self.to_json()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServeConfig:
        """The config :meth:`to_environment` stored.

        Args:
            environ: The environment to read (default ``os.environ``).

        Returns:
            The config.

        Raises:
            ValueError: If :data:`CONFIG_ENV` is not set or does not hold a valid config.
        """
        text = (os.environ if environ is None else environ).get(CONFIG_ENV)
        if not text:
            raise ValueError(f"{CONFIG_ENV} is not set; `refineseg serve` sets it for its worker processes")
        return cls.from_json(text)

    def load_segmenter(self) -> Segmenter:
        """Load the model this config names, with its device, precision and pixel limit.

        Returns:
            A ready :class:`~refineseg.inference.segmenter.Segmenter`.

        Raises:
            FileNotFoundError: No such weights file or name.
            ValueError: Weights or options the segmenter refuses.
        """
        from pathlib import Path

        from ..inference.segmenter import Segmenter

        calibration = [Path(p) for p in self.calibration] if self.calibration is not None else None
        return Segmenter.from_pretrained(
            self.weights,
            device=self.device,
            max_pixels=self.max_pixels,
            precision=self.precision,
            calibration=calibration,
            backend=self.backend,  # type: ignore[arg-type]  # checked against BACKEND_CHOICES when made
        )
