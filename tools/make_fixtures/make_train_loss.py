"""Paraformer / BiCif-Paraformer training-loss fixtures: tests/fixtures/train_loss/.

FunASR's own ``model.forward(speech, speech_lengths, text, text_lengths)`` (training mode:
``model.train()``, every ``Dropout``'s ``p`` set to 0, ``specaug = None``) on the tiny models,
for a few small batches of features (int8 values / 32, exact in float32) and random token ids:

* ``sampling_ratio`` 0.0 (no GLM mixing: deterministic) and 0.75 with ``torch.manual_seed(seed)``
  right before ``forward`` (the sampler's ``torch.randperm`` calls are then the only draws on the
  global RNG, so an explicit ``torch.Generator`` seeded alike reproduces them);
* equal feature lengths (FunASR's batch equals per-item results) and, at ratio 0.0, unequal
  lengths run one utterance at a time (``single``) so the batch loss can be recombined.

Writes inputs.npz and losses.json. Run:  tools/funasr_venv/bin/python tools/make_fixtures/make_train_loss.py
"""

import logging
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES, save_npz, write_json

logging.disable(logging.WARNING)
from funasr import AutoModel

OUT = os.path.join(FIXTURES, "train_loss")
MODELS = ["paraformer_tiny", "bicif_paraformer_tiny"]
SEEDS = [0, 1, 2, 3]


def load(name):
    am = AutoModel(
        model=os.path.join(FIXTURES, "models", name),
        device="cpu",
        disable_update=True,
        disable_pbar=True,
        log_level="ERROR",
    )
    m = am.model
    m.train()
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout):
            mod.p = 0.0
    m.specaug = None
    return m


def run(m, feats, flens, ys, ylens, ratio, seed):
    m.sampling_ratio = ratio
    torch.manual_seed(seed)
    loss, stats, weight = m(
        torch.from_numpy(feats), torch.from_numpy(flens), torch.from_numpy(ys), torch.from_numpy(ylens)
    )
    out = {k: float(stats[k]) for k in ("loss", "loss_att", "acc", "loss_pre") if stats.get(k) is not None}
    if "loss_pre2" in stats:
        out["loss_pre2"] = float(stats["loss_pre2"])
    out["weight"] = float(weight)
    # the same loss twice with the same seed: the run is deterministic
    torch.manual_seed(seed)
    loss2, _, _ = m(torch.from_numpy(feats), torch.from_numpy(flens), torch.from_numpy(ys), torch.from_numpy(ylens))
    assert float(loss2) == float(loss), (float(loss2), float(loss))
    return out


def main():
    rng = np.random.default_rng(7)
    vocab = 61
    batches = {}
    # equal feature lengths, 3 utterances
    b, t = 3, 24
    ylens = np.array([5, 8, 3], dtype=np.int64)
    batches["eq"] = (b, np.array([t] * b, dtype=np.int64), ylens)
    # unequal feature lengths
    batches["uneq"] = (3, np.array([24, 17, 11], dtype=np.int64), np.array([6, 4, 2], dtype=np.int64))
    arrays, results = {}, {}
    for key, (b, flens, ylens) in batches.items():
        feats = rng.integers(-96, 97, size=(b, int(flens.max()), 560)).astype(np.int8)
        for i in range(b):
            feats[i, flens[i] :] = 0
        ys = np.full((b, int(ylens.max())), -1, dtype=np.int64)
        for i in range(b):
            ys[i, : ylens[i]] = rng.integers(3, vocab, size=ylens[i])
        arrays[f"{key}_feats_int8"] = feats
        arrays[f"{key}_feat_lens"] = flens
        arrays[f"{key}_ys"] = ys
        arrays[f"{key}_ys_lens"] = ylens
    for name in MODELS:
        m = load(name)
        res = {}
        for key in batches:
            feats = arrays[f"{key}_feats_int8"].astype(np.float32) / 32.0
            flens, ys, ylens = arrays[f"{key}_feat_lens"], arrays[f"{key}_ys"], arrays[f"{key}_ys_lens"]
            if key == "eq":
                res[f"{key}_r0"] = run(m, feats, flens, ys, ylens, 0.0, 0)
                for s in SEEDS:
                    res[f"{key}_r075_seed{s}"] = run(m, feats, flens, ys, ylens, 0.75, s)
            else:
                res[f"{key}_r0_single"] = [
                    run(
                        m,
                        feats[i : i + 1, : flens[i]],
                        flens[i : i + 1],
                        ys[i : i + 1, : ylens[i]],
                        ylens[i : i + 1],
                        0.0,
                        0,
                    )
                    for i in range(len(flens))
                ]
                for s in SEEDS[:2]:
                    res[f"{key}_r075_seed{s}_single"] = [
                        run(
                            m,
                            feats[i : i + 1, : flens[i]],
                            flens[i : i + 1],
                            ys[i : i + 1, : ylens[i]],
                            ylens[i : i + 1],
                            0.75,
                            s,
                        )
                        for i in range(len(flens))
                    ]
        results[name] = res
    save_npz(os.path.join(OUT, "inputs.npz"), **arrays)
    write_json(os.path.join(OUT, "losses.json"), {"torch": torch.__version__, "results": results})
    print(results)


if __name__ == "__main__":
    main()
