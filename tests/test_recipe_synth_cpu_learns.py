"""The CPU-sized egs/synth recipe, stages 0-5, with 1,500 training steps: it must learn.

The corpus is the recipe's own CPU size (3,000 training sentences over the 400 most frequent
characters, held-out voices and sentences in dev/test). Chance is a CER of about 100 % (every
character wrong); the test asserts the held-out test CER is clearly below that, using the
recipe's own decode (stage 4) and scoring (stage 5). A step budget, not a time budget, so a busy
machine gives the same model (only later). About 7 minutes on 2 quiet cores.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cpu_recipe_reaches_a_cer_far_below_chance(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [
        "bash",
        str(ROOT / "egs/synth/asr/run.sh"),
        "--stage",
        "0",
        "--stop-stage",
        "5",
        "--data",
        str(tmp_path / "data"),
        "--dump",
        str(tmp_path / "dump"),
        "--exp",
        str(tmp_path / "exp"),
        "--train-extra",
        "--train_conf.max_minutes 0 --train_conf.max_steps 1500 --train_conf.use_tensorboard false",
    ]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    exp = tmp_path / "exp" / "paraformer_synth_cpu"
    test = json.loads((exp / "decode_test" / "cer.json").read_text())
    assert test["sentences"] == 200 and test["missing_hyp"] == 0
    assert test["cer"] < 80.0, test  # chance: ~100 %
    results = (exp / "RESULTS.md").read_text()
    assert f"%CER {test['cer']:.2f}" in results
    assert "%CER" in res.stdout  # the recipe prints its CER lines
