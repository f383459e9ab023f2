"""``refineseg serve`` under load: the FastAPI/uvicorn server against the ``http.server`` one it replaced.

    python benchmarks/serve_load.py                                  # 200 requests, 8 at a time
    python benchmarks/serve_load.py --requests 500 --concurrency 16 --format png

Both servers run in the same run, one after the other, each in a fresh process on a free
loopback port, with the same model (shipped ``camvid`` by default, ``--precision fp32``) and the
same image (``docs/images/street.jpg``): the new one as ``python -m refineseg serve``, the old
one from git (``git show 87301a6:src/refineseg/serve/app.py``, its relative imports rewritten to
``refineseg.`` ones, written to a temporary folder and imported from there; it is not kept in
the source tree). After a short warm-up, ``--requests`` requests are sent by ``--concurrency``
client threads, each over its own keep-alive connection, and every answer must be 200.

Printed, for each server: throughput (requests per second over the whole run), median and 99th
percentile latency, and the server process's peak resident memory (``VmHWM`` from /proc, model
loading included; with ``--workers`` the sum over the worker processes); then the ratios new/old,
and whether both servers gave the same answer (labels equal, overlays within 1); then the new server's throughput against the same
model and precision segmenting the decoded image in a loop in this process (what a server that
keeps the model busy approaches), measured just before and just after the new server's run, the
faster kept. The first lines name the CPU and its ISA.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import mimetypes
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import machine  # noqa: E402

OLD_COMMIT = "87301a6"
OLD_PATH = "src/refineseg/serve/app.py"
STARTUP_TIMEOUT_S = 300

# runs the old http.server implementation, imported from the temporary folder
OLD_SERVER = """
import sys
import old_serve_app
from refineseg.inference import Segmenter
weights, precision = sys.argv[1], sys.argv[2]
segmenter = Segmenter.from_pretrained(weights, precision=precision)
server = old_serve_app.make_server(segmenter, "127.0.0.1", 0, quiet=True)
old_serve_app.serve(server)
"""


def old_server_module(commit: str, folder: Path) -> Path:
    """The old server's module, from git, with its relative imports made absolute, written into ``folder``."""
    try:
        source = subprocess.run(
            ["git", "show", f"{commit}:{OLD_PATH}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"cannot read {OLD_PATH} at {commit} with git: {exc}") from None
    source = re.sub(r"^(\s*)from \.\.(\w)", r"\1from refineseg.\2", source, flags=re.MULTILINE)
    if re.search(r"^\s*from \.", source, flags=re.MULTILINE):
        raise SystemExit(f"{OLD_PATH} at {commit} has relative imports this script cannot rewrite")
    path = folder / "old_serve_app.py"
    path.write_text(source)
    return path


class Server:
    """A server process on a free loopback port; ``address`` once it answers ``ready_path``."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], ready_path: str, log: Path) -> None:
        self.name = name
        with log.open("w") as err:
            self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        assert self.process.stdout is not None
        url = ""
        for line in self.process.stdout:
            if match := re.search(r" at http://([\d.]+):(\d+)/", line):
                url = match.group(0)
                self.address = (match.group(1), int(match.group(2)))
                break
        if not url:
            raise SystemExit(f"the {name} server did not start:\n{log.read_text()[-3000:]}")
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                if get(self.address, ready_path)[0] == 200:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the {name} server did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def peak_rss_mib(self) -> float:
        """Peak resident memory of the server and its worker processes, in MiB."""
        return sum(_status_kib(pid, "VmHWM") for pid in [self.process.pid, *_descendants(self.process.pid)]) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def get(address: tuple[str, int], path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def load(
    address: tuple[str, int], path: str, body: bytes, content_type: str, requests: int, concurrency: int
) -> dict[str, object]:
    """Send ``requests`` POSTs, ``concurrency`` at a time; the latencies, wall time and one answer."""
    local = threading.local()

    def post(_: int) -> tuple[float, int, bytes]:
        if getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(*address, timeout=300)
        started = time.perf_counter()
        local.conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = local.conn.getresponse()
        data = response.read()
        return time.perf_counter() - started, response.status, data

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(post, range(requests)))
    wall = time.perf_counter() - started
    failed = [(status, data[:200]) for _, status, data in results if status != 200]
    if failed:
        raise SystemExit(f"{len(failed)} of {requests} requests failed, e.g. {failed[0]}")
    latencies = sorted(seconds for seconds, _, _ in results)
    return {
        "seconds": wall,
        "throughput": requests / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "answer": results[-1][2],
    }


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def answer_difference(old: bytes, new: bytes, fmt: str) -> str:
    """What differs between two answers, ``""`` when nothing does: the labels must be equal, the
    overlays within 1 per channel (the PNGs' bytes may differ with their compression, and the
    overlay's blend with its rounding)."""
    if fmt == "png":
        a, b = _pixels(old), _pixels(new)
        return (
            ""
            if np.array_equal(a, b)
            else f"labels differ on {np.mean(a != b) if a.shape == b.shape else 1:.2%} of pixels"
        )
    if fmt == "overlay":
        a, b = _pixels(old).astype(int), _pixels(new).astype(int)
        if a.shape != b.shape:
            return f"overlay sizes differ: {a.shape} against {b.shape}"
        largest = int(np.abs(a - b).max())
        return "" if largest <= 1 else f"overlays differ by up to {largest}"
    a, b = json.loads(old), json.loads(new)
    for key, kind in (("labels_png", "png"), ("overlay_png", "overlay")):
        why = answer_difference(base64.b64decode(a.pop(key)), base64.b64decode(b.pop(key)), kind)
        if why:
            return f"{key}: {why}"
    # fields one server answers and the other not (the new one added some) are not a difference
    common = (a.keys() & b.keys()) - {"elapsed_ms"}
    differing = sorted(k for k in common if a[k] != b[k])
    return f"JSON fields differ: {differing}" if differing else ""


class ModelAlone:
    """The same model and precision segmenting the decoded image in a loop, batch 1, in this
    process: what a server that keeps the model busy approaches. Measured just before and just
    after the new server's run (the host's speed drifts), and the faster of the two is kept.

    Attributes:
        ran: The backend and precision that ran it (``--backend auto``'s choice, as the server's).
        rates: Images per second of each measurement.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        from refineseg.inference import Segmenter
        from refineseg.inference.images import read_image_file

        self.segmenter = Segmenter.from_pretrained(args.weights, precision=args.precision)
        self.rgb = read_image_file(args.image)
        self.ran = f"{self.segmenter.backend} {self.segmenter.precision}"
        self.rates: list[float] = []
        for _ in range(5):  # first calls: allocations, kernel choice
            self.segmenter(self.rgb)

    def measure(self, count: int = 20) -> None:
        start = time.perf_counter()
        for _ in range(count):
            self.segmenter(self.rgb)
        self.rates.append(count / (time.perf_counter() - start))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per server (default 200)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--warmup", type=int, default=8, help="untimed requests first (default 8)")
    parser.add_argument("--image", type=Path, default=ROOT / "docs" / "images" / "street.jpg")
    parser.add_argument("--weights", default="camvid", help='shipped weights or a .safetensors file (default "camvid")')
    parser.add_argument("--precision", default="fp32", help="the model's precision on both servers (default fp32)")
    parser.add_argument("--format", default="json", choices=("json", "png", "overlay"), help="answer format")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of the new server (default 1)")
    parser.add_argument(
        "--old-commit", default=OLD_COMMIT, help=f"where the old server comes from (default {OLD_COMMIT})"
    )
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0 or args.workers < 1:
        parser.error("--requests, --concurrency and --workers must be at least 1, --warmup at least 0")
    if not Path("/proc/self/status").exists():
        parser.error("peak memory is read from /proc: Linux only")

    from refineseg.inference.precision import cpu_features

    print(machine())
    print(f"cpu: {cpu_features().describe()}")
    body = args.image.read_bytes()
    content_type = mimetypes.guess_type(args.image.name)[0] or "application/octet-stream"
    path = f"/api/segment?format={args.format}"
    print(
        f"{args.requests} requests of POST {path} ({args.image.name}, {len(body) / 1024:.0f} kB), "
        f"{args.concurrency} at a time, after {args.warmup} untimed; model {args.weights}, {args.precision}"
    )

    rows: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old_server_module(args.old_commit, folder)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(folder)])}
        servers = {
            f"old (http.server, {args.old_commit})": (
                [sys.executable, "-c", OLD_SERVER, args.weights, args.precision],
                "/api/info",
            ),
            "new (FastAPI + uvicorn)": (
                [
                    *(sys.executable, "-m", "refineseg", "serve", "--port", "0", "--quiet"),
                    *("--weights", args.weights, "--precision", args.precision, "--workers", str(args.workers)),
                    # every client thread may wait: the old server had no queue to fill
                    *("--max-queue", str(args.concurrency)),
                ],
                "/healthz",
            ),
        }
        alone = ModelAlone(args)
        for name, (command, ready) in servers.items():
            new_server = name.startswith("new")
            if new_server:
                alone.measure()
            server = Server(name, command, env, ready, folder / "server.log")
            try:
                if args.warmup:
                    load(server.address, path, body, content_type, args.warmup, args.concurrency)
                rows[name] = load(server.address, path, body, content_type, args.requests, args.concurrency)
                rows[name]["peak_rss_mib"] = server.peak_rss_mib()
            finally:
                server.stop()
            if new_server:
                alone.measure()

    print(f"\n  {'server':32} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} {'peak RSS MiB':>13}")
    for name, row in rows.items():
        print(
            f"  {name:32} {row['throughput']:8.2f} {row['p50_ms']:9.1f} {row['p99_ms']:9.1f} {row['peak_rss_mib']:13.0f}"
        )
    old, new = rows.values()
    ratios = {key: float(new[key]) / float(old[key]) for key in ("throughput", "p50_ms", "p99_ms", "peak_rss_mib")}  # type: ignore[arg-type]
    print(
        f"  {'new / old':32} {ratios['throughput']:7.2f}x {ratios['p50_ms']:8.2f}x {ratios['p99_ms']:8.2f}x "
        f"{ratios['peak_rss_mib']:12.2f}x"
    )
    difference = answer_difference(old["answer"], new["answer"], args.format)  # type: ignore[arg-type]
    same = not difference
    print(f"  same answer from both servers: {'yes' if same else 'NO: ' + difference}")
    best = max(alone.rates)
    busy = float(new["throughput"]) / best  # type: ignore[arg-type]
    print(
        f"  the model alone in a loop (this process, {alone.ran}, decoded image, labels out), just before and "
        f"after the new server: {' and '.join(f'{r:.2f}' for r in alone.rates)} images/s; "
        f"the new server reaches {busy:.2f}x the faster"
    )
    if args.json:
        report = {
            "machine": machine(),
            "cpu": cpu_features().describe(),
            "settings": {k: str(v) for k, v in vars(args).items() if k != "json"},
            "results": {name: {k: v for k, v in row.items() if k != "answer"} for name, row in rows.items()},
            "ratios_new_over_old": ratios,
            "same_answer": same,
            "model_alone_images_per_s": alone.rates,
            "model_alone_ran": alone.ran,
            "new_over_model_alone": busy,
        }
        args.json.write_text(json.dumps(report, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
