"""compute_cmvn from stage 1's dumped features equals compute_cmvn from the audio, byte for byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from funasr_lite.bin import compute_cmvn, dump_fbank

REPO = Path(__file__).resolve().parents[1]


def test_feats_scp_gives_the_same_am_mvn(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lines = []
    for i, n in enumerate([16000, 23456, 9000]):
        wav = tmp_path / f"u{i}.wav"
        sf.write(wav, (rng.standard_normal(n) * 0.1).astype(np.float32), 16000, subtype="PCM_16")
        lines.append(f"u{i} {wav}\n")
    (tmp_path / "wav.scp").write_text("".join(lines))
    conf = str(REPO / "conf/frontend_paraformer.yaml")
    assert (
        dump_fbank.main(
            [
                "--wav_scp",
                str(tmp_path / "wav.scp"),
                "--out_dir",
                str(tmp_path / "dump"),
                "--frontend_conf",
                conf,
                "--nj",
                "1",
            ]
        )
        == 0
    )
    assert (
        compute_cmvn.main(
            ["--wav_scp", str(tmp_path / "wav.scp"), "--frontend_conf", conf, "--out_dir", str(tmp_path / "a")]
        )
        == 0
    )
    assert (
        compute_cmvn.main(
            ["--feats_scp", str(tmp_path / "dump/feats.scp"), "--frontend_conf", conf, "--out_dir", str(tmp_path / "b")]
        )
        == 0
    )
    assert (tmp_path / "a/am.mvn").read_bytes() == (tmp_path / "b/am.mvn").read_bytes()
    assert (tmp_path / "a/cmvn.json").read_bytes() == (tmp_path / "b/cmvn.json").read_bytes()
