"""A run that says how it ended: one owner per output folder, checked resumes, signals, full disks.

A scheduler (Slurm, Kubernetes, systemd) stops a job with SIGTERM and reads its exit status,
and two runs writing one folder mix their checkpoints; so training holds a lock on its
``--output``, compares a resumed run's settings with the stored ones before it writes
anything, stops on SIGTERM or Ctrl-C after the current step with one line saying how to
resume and a non-zero status (143, 130), and turns a failed write into one line naming the
file.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from .._errors import one_line

__all__ = [
    "RESUMABLE",
    "OutputInUse",
    "OutputLock",
    "RunInterrupted",
    "compare_resumed",
    "remove_partial_writes",
    "stop_on_signals",
    "stored_config",
    "write_error",
]

LOCK_FILE = ".train.lock"

# settings a resumed run may change: they decide how long and where it runs and what it
# prints, not what a step computes; each change is recorded in config.json at the epoch it
# applies from. Every other setting (the model, the data and its order, the loss, the
# optimiser and its rates: Lightning restores the rates from the checkpoint) must match.
RESUMABLE = frozenset(
    {
        "epochs",
        "val_every",
        "limit_val_batches",
        "num_workers",
        "cache_images",
        "progress",
        "accelerator",
        "devices",
        "num_nodes",
        "strategy",
        "root",
        "output",
        "resume",
    }
)


class RunInterrupted(Exception):
    """The run was stopped by a signal after a completed step; its last checkpoint is intact.

    Args:
        message: What stopped the run and how to resume it.
        exit_status: See below.

    Attributes:
        exit_status: 128 + the signal's number (143 for SIGTERM, 130 for SIGINT), as a shell reports it.
    """

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


class OutputInUse(OSError):
    """Another live run holds the output folder (an ``OSError``, so the CLI reports it in one line)."""


class OutputLock:
    """An exclusive lock on a run's folder, held while the run lives.

    The operating system drops the lock when its process ends, however it ends, so a lock
    left by a killed run is simply taken over; the file names the holder's PID for the
    message a second run gets.

    Args:
        folder: The run's ``--output``.
    """

    def __init__(self, folder: Path) -> None:
        from filelock import FileLock  # a dependency of torch itself

        self.folder = folder
        self.path = folder / LOCK_FILE
        self._lock = FileLock(str(self.path) + ".flock", timeout=0)

    def __enter__(self) -> OutputLock:
        from filelock import Timeout

        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            holder = self.path.read_text().strip() if self.path.is_file() else "unknown"
            raise OutputInUse(
                f"--output {self.folder} is in use by another refineseg train (PID {holder}); "
                "wait for it to finish or choose another --output"
            ) from None
        self.path.write_text(f"{os.getpid()}\n")
        return self

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)
        self._lock.release()


def remove_partial_writes(folder: Path) -> list[Path]:
    """Delete the temporary files of writes that a killed run left (``.NAME.*.tmp``, see ``atomic_write``).

    Call it only while holding the folder's :class:`OutputLock`: a live run's temporary file
    is its write in progress.

    Args:
        folder: The run's folder.

    Returns:
        The files removed.
    """
    leftovers = [p for p in folder.rglob(".*.tmp") if p.is_file()]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def compare_resumed(stored: dict[str, Any], new: dict[str, Any], *, epochs_done: int) -> dict[str, list[Any]]:
    """Check a resumed run's settings against the stored ones.

    Args:
        stored: The first run's ``config.json``.
        new: The resumed run's settings (``TrainConfig.to_dict()``).
        epochs_done: Epochs the checkpoint completed.

    Returns:
        The changed settings that may change (see :data:`RESUMABLE`), as ``{name: [old, new]}``.

    Raises:
        ValueError: Naming every setting that changed and may not, or ``--epochs`` at or
            below the epochs done.
    """
    changed = {k: [stored.get(k), v] for k, v in new.items() if k in stored and stored[k] != v}
    refused = {k: pair for k, pair in changed.items() if k not in RESUMABLE}
    if refused:
        listed = ", ".join(f"--{k.replace('_', '-')} {old!r} -> {value!r}" for k, (old, value) in refused.items())
        raise ValueError(
            f"--resume: {listed} differ from the run being resumed; a resumed run keeps its model, data, loss "
            "and optimiser settings (start a new --output to change them)"
        )
    if new["epochs"] <= epochs_done:
        raise ValueError(
            f"--resume: --epochs {new['epochs']} but the checkpoint has already done {epochs_done}; "
            f"give more than {epochs_done}"
        )
    return {k: pair for k, pair in changed.items() if k not in ("resume", "output", "root")}


@contextmanager
def stop_on_signals() -> Iterator[dict[str, int]]:
    """Make the first Ctrl-C stop training after the current step, as SIGTERM does in Lightning.

    Lightning stops at the end of a step on SIGTERM (its ``SIGTERMException``), but turns a
    Ctrl-C into an immediate exit with status 1. Here the first SIGINT is passed on as SIGTERM
    (a second one interrupts at once, as usual), and the signal received is recorded.

    Yields:
        ``{"signal": number}`` once a signal came, else an empty dict.
    """
    received: dict[str, int] = {}
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield received
        return
    previous_int = signal.getsignal(signal.SIGINT)
    previous_term = signal.getsignal(signal.SIGTERM)

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if "signal" in received:
            raise KeyboardInterrupt
        received["signal"] = signum
        os.kill(os.getpid(), signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        received.setdefault("signal", signum)

    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, on_sigterm)  # Lightning adds its own handler beside this one
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)


def write_error(path: Path, exc: BaseException) -> OSError:
    """One line for a checkpoint or weights write that failed, saying whether the disk is full.

    ``torch.save`` reports a full disk as ``RuntimeError: ... iostream error``, which never says
    "no space"; the free space of the folder tells.

    Args:
        path: The file being written.
        exc: What the write raised.

    Returns:
        An ``OSError`` to raise (``ENOSPC`` when the disk is full).
    """
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    full = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or (free is not None and free < 64 * 2**20)
    if full:
        room = f" ({free / 2**20:.0f} MB free)" if free is not None else ""
        error = OSError(f"{path}: no space left on the device{room}; free some space, then resume with --resume")
        error.errno = errno.ENOSPC
    else:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else one_line(exc)
        error = OSError(f"{path}: could not be written ({reason})")
        error.errno = getattr(exc, "errno", None) or errno.EIO
    return error


def stored_config(output: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The settings a run in ``output`` was started with, for ``--resume``.

    Args:
        output: The run's folder.

    Returns:
        Its ``config.json`` without the record of earlier resumes, or ``None`` if there is none.

    Raises:
        ValueError: If the file is not a JSON mapping.
    """
    import json

    path = Path(output) / "config.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable run configuration ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a run configuration")
    data.pop("resumed", None)
    return data
