"""Security checks: URL input (schemes, time-out, size cap, redirects), shell pipes only on opt-in,
no shell string built from file names (run.pl quoting), keys that would write outside --output_dir.

The HTTP cases use a local ``http.server`` in a thread; nothing leaves the machine.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import QuietHandler, clear_proxies, serve_http

from funasr_lite.bin.inference import runpl_quote
from funasr_lite.errors import InputError
from funasr_lite.frontend.audio import ALLOW_PIPES_ENV, load_audio, load_wav_scp
from funasr_lite.frontend.fetch import MAX_REDIRECTS, download
from funasr_lite.writers.formats import check_file_key

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "fixtures" / "models" / "paraformer_tiny"
PCM = (np.sin(np.arange(8000) * 0.05) * 8000).astype(np.int16)


def _wav_bytes() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, PCM, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


WAV = _wav_bytes()


def _one_line_error(source: object, problem: str, **kwargs: object) -> InputError:
    with pytest.raises(InputError, match=problem) as info:
        load_audio(source, key="k", **kwargs)
    assert "\n" not in str(info.value) and str(info.value).startswith("k (")
    return info.value


# -------------------------------------------------------------------------------------- schemes


@pytest.mark.parametrize(
    "url, scheme",
    [
        ("file:///etc/passwd", "file"),
        ("FILE:///etc/passwd", "file"),
        ("ftp://127.0.0.1/a.wav", "ftp"),
        ("data:audio/wav;base64,UklGRiQAAABXQVZF", "data"),
        ("gopher://127.0.0.1:70/_a", "gopher"),
        ("gopher:127.0.0.1/a", "gopher"),
        ("javascript:alert(1)", "javascript"),
        ("dict://127.0.0.1:11211/", "dict"),
    ],
)
def test_only_http_and_https_urls(url: str, scheme: str) -> None:
    _one_line_error(url, f"URL scheme '{scheme}' is refused; only http and https")
    with pytest.raises(InputError, match="only http and https"):  # the downloader refuses them by itself too
        download(url, "item")


def test_a_file_named_like_a_scheme_is_still_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("data:x.wav").write_bytes(WAV)  # a relative path that looks like a data: URL
    np.testing.assert_array_equal(load_audio("data:x.wav").waveform, PCM / np.float32(32768))


# ------------------------------------------------------------------------------------ HTTP server


class _Handler(QuietHandler):
    def _trickle(self, data: bytes, every_s: float) -> None:
        deadline = time.monotonic() + 8  # bounded even if the client never leaves
        try:
            for i in range(len(data)):
                if time.monotonic() > deadline:
                    return
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(every_s)
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802, C901
        path = self.path
        if path == "/a.wav":
            self._send(200, WAV)
        elif path == "/loop":
            self._send(302, headers={"Location": "/loop"})
        elif path.startswith("/chain/"):  # /chain/N: N more redirects, then the wav
            n = int(path.rsplit("/", 1)[1])
            self._send(302, headers={"Location": f"/chain/{n - 1}"}) if n > 0 else self._send(200, WAV)
        elif path.startswith("/to/"):  # a redirect to another scheme
            self._send(
                302,
                headers={
                    "Location": {
                        "file": "file:///etc/passwd",
                        "ftp": "ftp://127.0.0.1/a.wav",
                        "data": "data:audio/wav;base64,AAAA",
                    }[path[4:]]
                },
            )
        elif path == "/slow_headers":  # every byte inside the socket time-out, the whole far beyond it
            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
            self._trickle(b"X-Padding: " + b"a" * 200 + b"\r\n\r\n", 0.05)
        elif path == "/slow_body":
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(WAV))
            self._trickle(WAV, 0.05)
        elif path == "/slow_redirects":
            time.sleep(0.4)
            self._send(302, headers={"Location": "/slow_redirects"})
        elif path == "/big_declared":
            self.send_response(200)
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
        elif path == "/big_undeclared":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"\0" * 65536)
            except OSError:
                pass
        elif path == "/cut_short":  # announces the whole file, sends half, closes
            self.send_response(200)
            self.send_header("Content-Length", str(len(WAV)))
            self.end_headers()
            self.wfile.write(WAV[: len(WAV) // 2])
        else:
            self._send(404, b"not found")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_http(_Handler) as url:
        yield url


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxies(monkeypatch)


def test_url_ok_and_redirect_limit(server: str) -> None:
    expected = PCM / np.float32(32768)
    np.testing.assert_array_equal(load_audio(server + "/a.wav").waveform, expected)
    np.testing.assert_array_equal(load_audio(f"{server}/chain/{MAX_REDIRECTS}").waveform, expected)
    for path in (f"/chain/{MAX_REDIRECTS + 1}", "/loop"):
        start = time.monotonic()
        _one_line_error(server + path, rf"too many redirects \(limit {MAX_REDIRECTS}\)")
        assert time.monotonic() - start < 5


@pytest.mark.parametrize("scheme", ["file", "ftp", "data"])
def test_redirect_to_another_scheme_is_refused(server: str, scheme: str) -> None:
    _one_line_error(f"{server}/to/{scheme}", f"redirect to a '{scheme}' URL refused")


@pytest.mark.parametrize("path", ["/slow_headers", "/slow_body", "/slow_redirects"])
def test_time_out_covers_headers_body_and_redirects(server: str, path: str) -> None:
    """Each byte (or hop) arrives within the socket time-out; the total deadline still ends it."""
    start = time.monotonic()
    _one_line_error(server + path, r"download timed out after 1.0 s", url_timeout_s=1.0)
    assert time.monotonic() - start < 2.5


def test_size_cap(server: str) -> None:
    start = time.monotonic()
    _one_line_error(server + "/big_declared", r"download too big: 1000000000000 bytes > limit 536870912")
    _one_line_error(server + "/big_undeclared", r"download too big: over limit 1000000 bytes", url_max_bytes=10**6)
    assert time.monotonic() - start < 5


def test_download_cut_short_is_an_error_not_a_shorter_file(server: str) -> None:
    _one_line_error(server + "/cut_short", rf"download incomplete: {len(WAV) // 2} of {len(WAV)} bytes")


def test_closed_port_fails_fast() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _one_line_error(f"http://127.0.0.1:{port}/a.wav", "cannot fetch URL", url_timeout_s=2)


# ---------------------------------------------------------------------------------------- pipes


@pytest.fixture()
def piped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, str]:
    """(wav, marker, piped command that creates marker and cats wav)."""
    monkeypatch.delenv(ALLOW_PIPES_ENV, raising=False)
    wav = tmp_path / "a.wav"
    wav.write_bytes(WAV)
    marker = tmp_path / "pipe_ran"
    return wav, marker, f"touch '{marker}'; cat '{wav}' |"


def test_pipes_are_refused_unless_enabled(piped: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    wav, marker, cmd = piped
    _one_line_error(cmd, "piped command refused: 'cmd |' entries run shell commands; enable them with --allow_pipes")
    assert not marker.exists(), "a refused pipe must not run"
    monkeypatch.setenv(ALLOW_PIPES_ENV, "1")
    _one_line_error(cmd, "piped command refused", allow_pipes=False)  # the argument wins over the environment
    assert not marker.exists()
    np.testing.assert_array_equal(load_audio(cmd).waveform, PCM / np.float32(32768))  # enabled by the environment
    assert marker.exists()
    marker.unlink()
    monkeypatch.delenv(ALLOW_PIPES_ENV)
    np.testing.assert_array_equal(load_audio(cmd, allow_pipes=True).waveform, PCM / np.float32(32768))
    assert marker.exists()


def test_wav_scp_pipe_entry_is_one_bad_item(piped: tuple[Path, Path, str], tmp_path: Path) -> None:
    wav, marker, cmd = piped
    scp = tmp_path / "wav.scp"
    scp.write_text(f"a {wav}\nb {cmd}\nc {wav}\n")
    items = dict(load_wav_scp(scp))
    assert isinstance(items["b"], InputError) and "piped command refused" in str(items["b"])
    assert not isinstance(items["a"], InputError) and not isinstance(items["c"], InputError)
    assert not marker.exists()
    assert not any(isinstance(v, InputError) for v in dict(load_wav_scp(scp, allow_pipes=True)).values())
    assert marker.exists()


def _inference(wav_scp: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop(ALLOW_PIPES_ENV, None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "funasr_lite.bin.inference",
            "--model",
            str(TINY),
            "--wav_scp",
            str(wav_scp),
            "--output_dir",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )


def test_inference_cli_runs_pipes_only_with_allow_pipes(piped: tuple[Path, Path, str], tmp_path: Path) -> None:
    wav, marker, cmd = piped
    scp = tmp_path / "wav.scp"
    scp.write_text(f"a {wav}\nb {cmd}\n")
    proc = _inference(scp, tmp_path / "off")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "piped command refused" in (tmp_path / "off" / "errors.txt").read_text()
    assert (tmp_path / "off" / "1best_recog" / "text").read_text().split()[0] == "a"
    assert not marker.exists()
    proc = _inference(scp, tmp_path / "on", "--allow_pipes", "--nj", "2")  # the flag reaches the jobs
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [ln.split()[0] for ln in (tmp_path / "on" / "1best_recog" / "text").read_text().splitlines()] == ["a", "b"]
    assert marker.exists()


# ------------------------------------------------------------------ file names in shell strings


NASTY = [
    "plain",
    "a b",
    "$(touch PWNED)",
    "a $(touch PWNED) b",
    "`touch PWNED`",
    "x;touch${IFS}PWNED",
    'dq " and $HOME',
    "sq ' and \"",
    "it's",
    "a\\b c",
    "tab\there",
    "new\nline",
    "",
    "|",
    ">PWNED",
    "*",
    "ü 音频 $x",
    "all ' \" $ ` \\ ;",
]


def test_runpl_quote_gives_bash_the_exact_arguments(tmp_path: Path) -> None:
    log = tmp_path / "log"
    code = "import sys, json; print('ARGS=' + json.dumps(sys.argv[1:]))"
    cmd = [str(REPO / "utils" / "run.pl"), str(log), sys.executable, "-c", code, *NASTY]
    subprocess.run([cmd[0], cmd[1], *(runpl_quote(a) for a in cmd[2:])], check=True, cwd=tmp_path)
    line = next(ln for ln in log.read_text().splitlines() if ln.startswith("ARGS="))
    assert json.loads(line[5:]) == NASTY
    assert not (tmp_path / "PWNED").exists()


def test_inference_nj_with_shell_characters_in_paths(tmp_path: Path) -> None:
    d = tmp_path / "in $(touch PWNED) `touch PWNED`;x"
    d.mkdir()
    (d / "a b.wav").write_bytes(WAV)
    (d / "c.wav").write_bytes(WAV)
    scp = d / "wav;touch PWNED.scp"
    scp.write_text(f"a {d / 'a b.wav'}\nc {d / 'c.wav'}\n")
    out = tmp_path / "out $(touch PWNED);touch${IFS}PWNED"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "funasr_lite.bin.inference",
            "--model",
            str(TINY),
            "--wav_scp",
            str(scp),
            "--output_dir",
            str(out),
            "--nj",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [ln.split()[0] for ln in (out / "1best_recog" / "text").read_text().splitlines()] == ["a", "c"]
    assert sorted(p.name for p in (out / "json").iterdir()) == ["a.json", "c.json"]
    assert not list(tmp_path.rglob("PWNED")) and not (REPO / "PWNED").exists()


# ------------------------------------------------------------------------- keys as file names


@pytest.mark.parametrize("key", ["..", ".", "", "../evil", "a/b", "/abs", "a\0b", "x" * 300])
def test_check_file_key_refuses(key: str) -> None:
    with pytest.raises(ValueError, match="cannot be a file name"):
        check_file_key(key)


@pytest.mark.parametrize("key", ["a..b", "...", "-x", "音频_01", "a\\b", "k" * 200])
def test_check_file_key_accepts(key: str) -> None:
    assert check_file_key(key) == key


@pytest.mark.parametrize("key", ["../evil", "sub/dir", ".."])
def test_inference_refuses_keys_that_escape_output_dir(tmp_path: Path, key: str) -> None:
    (tmp_path / "a.wav").write_bytes(WAV)
    scp = tmp_path / "wav.scp"
    scp.write_text(f"ok {tmp_path / 'a.wav'}\n{key} {tmp_path / 'a.wav'}\n")
    out = tmp_path / "work" / "out"
    proc = _inference(scp, out, "--output_format", "json,txt", "--nj", "2")
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {scp}: utterance key {key!r} cannot be a file name"), err
    assert not (tmp_path / "work").exists() and not (tmp_path / "evil.json").exists()
