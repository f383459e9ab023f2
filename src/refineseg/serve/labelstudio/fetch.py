"""Task images for the Label Studio backend: fetched from the Label Studio that sent the task, only.

A task's image field holds a URL as Label Studio wrote it: an upload (``/data/upload/3/1a2b3c4d-
photo.jpg``, or ``/storage-data/uploaded/?filepath=...``), a file of a local storage
(``/data/local-files/?d=photos/a.jpg``), an absolute URL, or a cloud URI (``s3://...``). The
backend fetches only from the Label Studio it was started for (``--label-studio-url``): a
relative URL is joined to it, an absolute one must be on the same scheme, host and port, and
anything else is refused (cloud storage included); and only from the paths Label Studio serves
task files under (:data:`FILE_PATHS`), since the API key may be an administrator's. Redirects
are not followed. Otherwise the backend would fetch
whatever a task names (or a ``/setup`` call's ``hostname``, which it ignores for this reason)
and could be made to read internal services. With ``local_files_root`` (Label Studio's
``LOCAL_FILES_DOCUMENT_ROOT``), local-storage files are read from disk instead, and a path that
leaves that folder is refused.

The body is read in chunks and refused beyond ``max_bytes``, before it is all in memory; the
pixels are then checked by :func:`~refineseg.serve.uploads.decode_image`, as ``serve`` checks
an upload.

Label Studio wants its API key as ``Authorization: Token KEY`` (a legacy token). A personal
access token (a JWT) is exchanged first for a short-lived access token
(``POST /api/token/refresh/``), sent as ``Bearer``, and exchanged again when it is refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

__all__ = ["ImageSource", "TaskImageError"]

LOCAL_FILES_PREFIX = "/data/local-files/"
# where Label Studio serves task files: uploads (two forms) and local storage
FILE_PATHS = ("/data/upload/", "/storage-data/uploaded/", LOCAL_FILES_PREFIX)
FETCH_TIMEOUT_S = 30.0
CHUNK_BYTES = 1 << 16


class TaskImageError(Exception):
    """A task's image cannot be fetched or is refused; the message is one line.

    Args:
        message: What went wrong.
        status: The HTTP status it answers to in a request of its own (400, 403, 413, 502).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _is_jwt(key: str) -> bool:
    return key.count(".") == 2 and not key.startswith("Token ")


class ImageSource:
    """Fetches task images from one Label Studio.

    Args:
        url: Label Studio's address (``http://localhost:8080``), or ``None``: then only
            local-storage files under ``local_files_root`` can be read.
        api_key: Its API key (a legacy token or a personal access token), or ``None``.
        local_files_root: Label Studio's ``LOCAL_FILES_DOCUMENT_ROOT``, to read local-storage
            files from disk; ``None``: fetch them from Label Studio.
        max_bytes: Larger files are refused.
        timeout_s: The connect and read timeout of a fetch.

    Raises:
        ValueError: ``url`` is not an http(s) address, or ``max_bytes`` is not positive.
    """

    def __init__(
        self,
        url: str | None,
        api_key: str | None = None,
        *,
        local_files_root: str | os.PathLike[str] | None = None,
        max_bytes: int,
        timeout_s: float = FETCH_TIMEOUT_S,
    ) -> None:
        if url is not None:
            scheme, host, _ = _origin(url)
            if scheme not in ("http", "https") or not host:
                raise ValueError(
                    f"Label Studio's URL must be an http(s) address such as http://localhost:8080, got {url!r}"
                )
            url = url.rstrip("/") + "/"
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.url = url
        self.api_key = api_key
        self.local_files_root = Path(local_files_root).resolve() if local_files_root is not None else None
        self.max_bytes = int(max_bytes)
        self.timeout_s = float(timeout_s)
        self._access: str | None = None  # the Bearer token a personal access token was exchanged for
        self._client: Any = None

    def describe(self) -> str:
        """Where images come from, for the start-up line.

        Returns:
            A phrase such as ``Label Studio at http://localhost:8080``.
        """
        where = [f"Label Studio at {self.url.rstrip('/')}"] if self.url else []
        if self.local_files_root is not None:
            where.append(f"local files under {self.local_files_root}")
        return " and ".join(where) or "nowhere (give --label-studio-url)"

    def fetch(self, reference: str) -> bytes:
        """The bytes of the image a task's field names.

        Args:
            reference: The field's value.

        Returns:
            The file's bytes.

        Raises:
            TaskImageError: The reference is refused (another host, a cloud URI, a path out of
                ``local_files_root``), the file is too large, or the fetch fails.
        """
        if not isinstance(reference, str) or not reference.strip():
            raise TaskImageError(f"the image field is not a URL: {reference!r}")
        reference = reference.strip()
        if reference.startswith(LOCAL_FILES_PREFIX) and self.local_files_root is not None:
            return self._read_local(reference)
        return self._get(self._resolve(reference))

    def _resolve(self, reference: str) -> str:
        try:
            parts = urlsplit(reference)
            origin = _origin(reference) if parts.scheme else None
        except ValueError as exc:  # a malformed host or port
            raise TaskImageError(f"{reference}: not a URL ({exc})") from None
        if parts.scheme and parts.scheme not in ("http", "https"):
            raise TaskImageError(
                f"{reference}: {parts.scheme}:// images are not fetched (only images served by Label Studio itself)",
                403,
            )
        if parts.scheme and (self.url is None or origin != _origin(self.url)):
            where = self.url.rstrip("/") if self.url else "no Label Studio URL given"
            raise TaskImageError(f"{reference}: not on Label Studio ({where}); images are fetched from there only", 403)
        # only the paths Label Studio serves task files under: the backend's token may be an
        # administrator's, and a task must not make it GET the rest of Label Studio's API
        # a ".." segment would climb out of those paths once the URL is resolved (urljoin drops it)
        if not any(parts.path.startswith(prefix) for prefix in FILE_PATHS) or ".." in unquote(parts.path).split("/"):
            raise TaskImageError(
                f"{reference}: not a Label Studio file URL (expected a path under {', '.join(FILE_PATHS)})", 403
            )
        if parts.scheme:
            return reference
        if self.url is None:
            raise TaskImageError(f"{reference}: a Label Studio URL is needed to fetch it (--label-studio-url)")
        return urljoin(self.url, reference.lstrip("/"))

    def _read_local(self, reference: str) -> bytes:
        assert self.local_files_root is not None
        # parse_qs decodes the value once, as Label Studio's server does (it writes d=quote(path))
        relative = parse_qs(urlsplit(reference).query).get("d", [""])[0].lstrip("/")
        if not relative or "\x00" in relative:
            raise TaskImageError(f"{reference}: no file path in d=", 400)
        path = (self.local_files_root / relative).resolve()
        if not path.is_relative_to(self.local_files_root):
            raise TaskImageError(f"{reference}: not a file under the local files root {self.local_files_root}", 403)
        try:
            # a FIFO or a device reports size 0 and never ends (and a FIFO blocks its opening without
            # O_NONBLOCK): regular files only, read to the limit
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise TaskImageError(f"{reference}: not a regular file", 403)
                data = f.read(self.max_bytes + 1)
        except OSError as exc:
            raise TaskImageError(f"{reference}: cannot read {path} ({exc.strerror or exc})", 404) from None
        if len(data) > self.max_bytes:
            raise TaskImageError(f"{reference}: more than the limit of {self.max_bytes:,} bytes", 413)
        return data

    def _headers(self, *, renew: bool = False) -> dict[str, str]:
        if not self.api_key:
            return {}
        if not _is_jwt(self.api_key):
            return {"Authorization": f"Token {self.api_key}"}
        if self._access is None or renew:
            self._access = self._exchange(self.api_key)
        return {"Authorization": f"Bearer {self._access}"}

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.timeout_s, follow_redirects=False)
        return self._client

    def _exchange(self, refresh: str) -> str:
        assert self.url is not None
        url = urljoin(self.url, "api/token/refresh/")
        try:
            response = self._http().post(url, json={"refresh": refresh})
        except Exception as exc:
            raise TaskImageError(f"{url}: cannot reach Label Studio ({type(exc).__name__}: {exc})", 502) from None
        try:
            body = response.json()
        except ValueError:  # a proxy's or a login page's HTML: not Label Studio's API
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("access"), str):
            raise TaskImageError(f"{url}: Label Studio refused the personal access token ({response.status_code})", 502)
        return body["access"]

    def _get(self, url: str) -> bytes:
        import httpx

        for attempt in range(2):
            try:
                with self._http().stream("GET", url, headers=self._headers(renew=attempt > 0)) as response:
                    if response.status_code == 401 and attempt == 0 and self.api_key and _is_jwt(self.api_key):
                        continue  # the access token expired: exchange the personal one again
                    if response.status_code != 200:
                        raise TaskImageError(f"{url}: Label Studio answered {response.status_code}", 502)
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > self.max_bytes:
                        raise TaskImageError(
                            f"{url}: {int(declared):,} bytes, more than the limit of {self.max_bytes:,}", 413
                        )
                    data = bytearray()
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        data += chunk
                        if len(data) > self.max_bytes:
                            raise TaskImageError(f"{url}: more than the limit of {self.max_bytes:,} bytes", 413)
                    return bytes(data)
            except httpx.HTTPError as exc:
                raise TaskImageError(f"{url}: cannot fetch it ({type(exc).__name__}: {exc})", 502) from None
        raise TaskImageError(f"{url}: Label Studio refused the API key (401)", 502)

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            self._client.close()
            self._client = None
