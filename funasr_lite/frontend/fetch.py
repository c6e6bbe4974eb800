"""Bytes from outside: ``wav.scp`` piped commands (``cmd |``) and http(s) downloads, both bounded.

Used by the audio loader only. A pipe runs in its own process group so a time-out kills the whole
pipeline; a download has a total deadline, a size cap and at most ``MAX_REDIRECTS`` redirects, to
http(s) only. Every failure is an ``InputError`` naming the item.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
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
        proc = subprocess.Popen(command, shell=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
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
        raise InputError(item, f"command exited with status {proc.returncode}: "
                               f"{last_line(err) or 'no message'}")
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


def download(url: str, item: str, timeout_s: float = URL_TIMEOUT_S, max_bytes: int = URL_MAX_BYTES) -> bytes:
    """Fetch ``url`` in chunks under a size cap and a total deadline."""
    deadline = time.monotonic() + timeout_s
    opener = urllib.request.build_opener(_RedirectHandler)
    request = urllib.request.Request(url, headers={"User-Agent": "funasr_lite"})
    try:
        with opener.open(request, timeout=timeout_s) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise InputError(item, f"download too big: {declared} bytes "
                                       f"> limit {max_bytes}")
            chunks, total = [], 0
            while chunk := response.read1(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise InputError(item, f"download too big: over limit "
                                           f"{max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise InputError(item, f"download timed out after {timeout_s} s")
                chunks.append(chunk)
    except InputError:
        raise
    except urllib.error.HTTPError as err:
        if 300 <= err.code < 400 and "infinite loop" in str(err.msg):
            raise InputError(item, f"HTTP {err.code}: too many redirects "
                                   f"(limit {MAX_REDIRECTS}) or a redirect loop") from None
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
