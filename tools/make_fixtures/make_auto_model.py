"""FunASR 1.4.16's results for AutoModel on single-purpose folders and for merge_vad:
tests/fixtures/auto_model/funasr_refs.json, read by tests/test_auto_model_folders.py.

- ``merge_vad`` / ``merge_vad_10s``: ``funasr.utils.vad_utils.merge_vad`` on SEGS (15 s and 10 s);
- ``punc``: ``AutoModel(model=ct_transformer_tiny).generate(input=PUNC_TEXT)``: text and punc_array;
- ``spk``: ``AutoModel(model=campplus_tiny).generate(input=spk_wave())``: the (1, D) embedding.

Run:  tools/funasr_venv/bin/python tools/make_fixtures/make_auto_model.py
"""

import json
import logging
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES  # noqa: E402

logging.disable(logging.WARNING)

SEGS = [[0, 3000], [3500, 9000], [9600, 16000], [17000, 30000], [30500, 31000]]  # as the test's
PUNC_TEXT = "你好 世界 今天 天气"


def spk_wave() -> np.ndarray:
    """A 220 Hz sine plus seeded noise (2 s, 16 kHz): tests/test_auto_model_folders.py:_spk_wave."""
    rng = np.random.default_rng(0)
    rng.standard_normal(32000)
    t = np.arange(32000) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def main() -> None:
    from funasr import AutoModel
    from funasr.utils.vad_utils import merge_vad

    models = os.path.join(FIXTURES, "models")
    refs = {"merge_vad": merge_vad(SEGS, 15000), "merge_vad_10s": merge_vad(SEGS, 10000)}
    punc = AutoModel(model=os.path.join(models, "ct_transformer_tiny"), disable_update=True, device="cpu")
    res = punc.generate(input=PUNC_TEXT)[0]
    refs["punc"] = {"text": res["text"], "punc_array": res["punc_array"].tolist()}
    spk = AutoModel(model=os.path.join(models, "campplus_tiny"), disable_update=True, device="cpu")
    refs["spk"] = spk.generate(input=spk_wave())[0]["spk_embedding"].tolist()
    refs["_how"] = (
        "tools/make_fixtures/make_auto_model.py in tools/funasr_venv: funasr.utils.vad_utils.merge_vad on the "
        "segment list in tests/test_auto_model_folders.py; AutoModel(model=ct_transformer_tiny).generate(input="
        '"你好 世界 今天 天气"); AutoModel(model=campplus_tiny).generate(input=<test_auto_model_folders._spk_wave()>), '
        "FunASR 1.4.16"
    )
    out = os.path.join(FIXTURES, "auto_model", "funasr_refs.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(refs, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
