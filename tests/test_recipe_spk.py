"""egs/synth/spk/run.sh stages 0-4 end to end on a tiny scale: speakers, a meeting, CAM++, diarization, DER."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from funasr_lite.bin import compute_der

ROOT = Path(__file__).resolve().parents[1]
MICRO = '{"init_channels":8,"growth_rate":4,"bn_size":2,"embedding_size":16}'  # no spaces: run.sh splits words


def test_spk_recipe_stages_0_to_4(tmp_path: Path) -> None:
    data, exp = tmp_path / "data", tmp_path / "exp"
    train_opts = f"--device cpu --epochs 1 --batch_size 6 --steps_per_epoch 2 --model_conf {MICRO} --num_threads 2"
    cmd = [
        "bash",
        str(ROOT / "egs/synth/spk/run.sh"),
        "--data",
        str(data),
        "--exp",
        str(exp),
        "--num-variants",
        "3",
        "--pitches",
        "40",
        "--utts-per-spk",
        "3",
        "--num-meetings",
        "1",
        "--meeting-min-dur",
        "15",
        "--meeting-max-dur",
        "20",
        "--vad",
        "oracle",
        "--train-opts",
        train_opts,
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len((data / "spk_train_cpu" / "utt2spk").read_text().splitlines()) == 9  # 3 speakers x 3
    meetings = data / "meetings_cpu"
    assert json.loads((meetings / "meetings.json").read_text())["num_meetings"] == 1
    diar = exp / "campplus_cpu" / "diar_meetings_oraclevad"
    # the DER report is compute_der's on the recipe's RTTMs, and RESULTS.md records it and its sources
    again = tmp_path / "der.txt"
    assert compute_der.main(["--collar", "0.25", str(meetings / "ref.rttm"), str(diar / "hyp.rttm"), str(again)]) == 0
    assert again.read_text() == (diar / "der.txt").read_text()
    results = (diar / "RESULTS.md").read_text(encoding="utf-8")
    checkpoint = json.loads((exp / "campplus_cpu" / "model" / "train_info.json").read_text())["checkpoint"]
    assert results.startswith("# egs/synth/spk results (cpu)\n")
    assert f"from checkpoint `{checkpoint}`" in results and "- meetings: 1 meetings," in results
    assert (diar / "der.txt").read_text().strip() in results and "--vad oracle" in results
