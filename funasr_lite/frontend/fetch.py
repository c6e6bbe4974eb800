"""Bytes from outside: ``wav.scp`` piped commands (``cmd |``) and http(s) downloads, both bounded.

Used by the audio loader only. A pipe runs in its own process group so a time-out kills the whole
pipeline; a download has a total deadline, a size cap and at most ``MAX_REDIRECTS`` redirects, to
http(s) only. The deadline covers everything after name resolution, redirects and headers
included: when it passes, a timer shuts the download's sockets down, so a server that trickles
bytes (each read within the socket time-out) cannot stretch it. A body shorter than its
``Content-Length`` (the server closed early) is an error, not a shorter file. Every failure is an
``InputError`` naming the item.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPException

from funasr_lite.errors import InputError, one_line

URL_TIMEOUT_S = 30.0
URL_MAX_BYTES = 512 * 1024 * 1024
MAX_REDIRECTS = 5
PIPE_TIMEOUT_S = 600.0
_CHUNK = 64 * 1024


def run_pipe(command: str, item: str, timeout_s: float | None) -> bytes:
    """Run a ``wav.scp`` ``cmd |`` with the shell and return its stdout."""
    if not command:
        raise InputError(item, "empty piped command")
    try:
        proc = subprocess.Popen(
            command,
            shell=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as err:
        raise InputError(item, f"cannot run command: {one_line(err)}") from None
    with proc:
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the whole pipeline we started
            except ProcessLookupError:
                pass
            proc.communicate()
            raise InputError(item, f"command timed out after {timeout_s} s") from None
    if proc.returncode != 0:
        raise InputError(item, f"command exited with status {proc.returncode}: {last_line(err) or 'no message'}")
    if not out:
        raise InputError(item, f"command produced no output: {last_line(err) or 'no message'}")
    return out


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """At most ``MAX_REDIRECTS`` redirects, and only to http(s)."""

    max_redirections = MAX_REDIRECTS

    def http_error_302(self, req, fp, code, msg, headers):  # noqa: ANN001, ANN201
        location = headers.get("location") or headers.get("uri") or ""
        scheme = urllib.parse.urlparse(urllib.parse.urljoin(req.full_url, location)).scheme
        if scheme.lower() not in ("http", "https"):
            raise urllib.error.URLError(f"redirect to a {scheme!r} URL refused")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


class _Deadline:
    """Shuts down every socket of one download once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shutdown(sock)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # a blocked recv() returns at once
    except OSError:
        pass


def _tracked_handlers(deadline: _Deadline) -> list[urllib.request.BaseHandler]:
    """http and https handlers whose connections register their sockets with ``deadline``."""

    def tracked(base: type) -> type:
        class Connection(base):  # type: ignore[valid-type, misc]
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, **kwargs)
                create = self._create_connection
                self._create_connection = lambda *a, **k: deadline.track(create(*a, **k))

        return Connection

    http_conn, https_conn = tracked(http.client.HTTPConnection), tracked(http.client.HTTPSConnection)

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req):  # noqa: ANN001, ANN201
            return self.do_open(http_conn, req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req):  # noqa: ANN001, ANN201
            return self.do_open(https_conn, req, context=self._context)

    return [Http(), Https()]


def download(url: str, item: str, timeout_s: float = URL_TIMEOUT_S, max_bytes: int = URL_MAX_BYTES) -> bytes:
    """Fetch an http(s) ``url`` in chunks under a size cap and a total deadline."""
    try:
        scheme = urllib.parse.urlparse(url).scheme.lower()
    except ValueError as err:  # "http://[::1": urllib's parser raises on some malformed URLs
        raise InputError(item, f"bad URL: {one_line(err)}") from None
    if scheme not in ("http", "https"):
        raise InputError(item, f"URL scheme {scheme!r} is refused; only http and https")
    with _Deadline(timeout_s) as deadline:
        try:
            return _download(url, item, timeout_s, max_bytes, deadline)
        except InputError:
            if deadline.expired:
                raise InputError(item, f"download timed out after {timeout_s} s") from None
            raise


def _download(url: str, item: str, timeout_s: float, max_bytes: int, deadline: _Deadline) -> bytes:
    opener = urllib.request.build_opener(_RedirectHandler, *_tracked_handlers(deadline))
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "funasr_lite"})  # raises on a bad URL
        with opener.open(request, timeout=timeout_s) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise InputError(item, f"download too big: {declared} bytes > limit {max_bytes}")
            chunks, total = [], 0
            while chunk := response.read1(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise InputError(item, f"download too big: over limit {max_bytes} bytes")
                if deadline.expired:
                    raise InputError(item, f"download timed out after {timeout_s} s")
                chunks.append(chunk)
            if deadline.expired:
                raise InputError(item, f"download timed out after {timeout_s} s")
            if declared.isdigit() and total != int(declared):
                raise InputError(
                    item, f"download incomplete: {total} of {declared} bytes (the server closed the connection early)"
                )
    except InputError:
        raise
    except urllib.error.HTTPError as err:
        if 300 <= err.code < 400 and "infinite loop" in str(err.msg):
            raise InputError(
                item, f"HTTP {err.code}: too many redirects (limit {MAX_REDIRECTS}) or a redirect loop"
            ) from None
        raise InputError(item, f"HTTP error {err.code} {one_line(err.reason)}") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, TimeoutError):
            raise InputError(item, f"download timed out after {timeout_s} s") from None
        raise InputError(item, f"cannot fetch URL: {one_line(err.reason)}") from None
    except TimeoutError:
        raise InputError(item, f"download timed out after {timeout_s} s") from None
    except (OSError, HTTPException, ValueError) as err:
        raise InputError(item, f"download failed: {one_line(err)}") from None
    return b"".join(chunks)


def last_line(stderr: bytes) -> str:
    """The last non-empty line of a process's stderr."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    return next((line for line in reversed(lines) if line), "")
