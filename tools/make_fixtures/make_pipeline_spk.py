"""Speaker-diarization pipeline golden fixtures (tests/fixtures/pipeline_spk/) from FunASR 1.4.16.

    bash tools/setup_funasr_venv.sh && bash tools/fetch_fsmn_vad.sh
    tools/funasr_venv/bin/python tools/make_fixtures/make_pipeline_spk.py

FunASR `AutoModel(model=tests/fixtures/models/bicif_paraformer_tiny, vad_model=tools/fsmn_vad
(the REAL FSMN-VAD checkpoint), punc_model=tests/fixtures/models/ct_transformer_tiny,
spk_model=tests/fixtures/models/campplus_tiny, device="cpu", disable_update=True[, spk_mode=...])`
`.generate(input=wave[, preset_spk_num=2])` (4 runs: punc_segment / vad_segment, each without
and with `preset_spk_num=2`; plus 2 punc_segment runs with `model=paraformer_tiny`, the plain
Paraformer, whose timestamps FunASR computes because a speaker model is loaded) on two espeak-ng "dialogues" (2 and 3 alternating
voices: espeak-ng `cmn+<variant>` with different pitches, 45-80 s, > 20 embedding chunks each).
The tiny CAM++ folder has random weights: its embeddings (16-d) are arbitrary but deterministic,
so the speaker labels are whatever FunASR's clustering makes of them (they need not follow the
voices); what is pinned is that funasr_lite reproduces every step.

A fresh AutoModel is built for every (run, clip) generate() call, so FunASR's k-means draws from
numpy's global RNG right after `set_all_random_seed(0)`; the generator checks that the state at the
`ClusterBackend` call equals `np.random.seed(0)`'s (stored as `rng_is_seed0`; the full MT19937
state would be stored in `embeddings.npz` as `<run>/<clip>/rng_keys` + `rng_pos` if it did not).

The audio is NOT stored: `synth_clip(recipe)` rebuilds it from `pipeline_spk/recipe.json` (espeak-ng
Mandarin with a voice variant, pitch and speed per part, soxr to 16 kHz, pauses, seeded noise,
16-bit grid); its sha256 is stored. The synthesis part imports no funasr/torch (tests import it).

Outputs:
- `pipeline_spk/recipe.json`: voices, clip recipes (a part is [sentence index into
  make_vad.SENTENCES or literal text, voice name, espeak-ng speed, pause after in s]), the true
  speaker of each part's span (`truth`, s), sha256 and sample counts.
- `pipeline_spk/results.json`: per run (ctor + call options) and clip:
  `result` = FunASR's generate() dict (key masked), `vad_segments`, `segments` (per VAD segment:
  ASR text + segment-relative timestamps, as pipeline/results.json), `punc_input`/`punc_text`/
  `punc_array`, `chunks` = `all_segments` times as FunASR passed them to `postprocess` (sorted by
  start; floats, repr round-trips), `sv_chunk_calls` = per `sv_chunk` call [seg start s, seg end s,
  n samples] (processing order, shortest segment first), `labels` = ClusterBackend output,
  `turns` = `postprocess` output `[start_s, end_s, spk]`, `oracle_num`, `rng_is_seed0`.
- `pipeline_spk/embeddings.npz`: `<clip>` = the float32 (N, 16) embedding matrix FunASR clustered
  (rows in chunk order); identical in every run (checked; a run that differed would be stored
  as `<run>/<clip>`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import wave as wavmod

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(REPO, "tests", "fixtures", "pipeline_spk")
VAD_DIR = os.path.join(REPO, "tools", "fsmn_vad")
FS = 16000


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mp = _load("_make_pipeline_for_spk", "make_pipeline.py")
mv = mp.mv
SENTENCES = mp.SENTENCES
sha256 = mp.sha256
to_float = mp.to_float

# voice name -> espeak-ng voice variant and pitch (-p, 0-99)
VOICES = {
    "A": {"variant": "m3", "pitch": 30},
    "B": {"variant": "f3", "pitch": 85},
    "C": {"variant": "klatt", "pitch": 55},
}
# Each part: [sentence index or literal text, voice, speed, pause after (s)]. Short pauses keep two
# voices in one VAD segment (speaker changes inside segments and sentences); long ones split.
CLIPS = {
    "dialog2": {
        "seed": 21,
        "noise_std": 0.002,
        "lead_s": 0.5,
        "parts": [
            [0, "A", 220, 0.4],
            ["好的，没问题。", "B", 200, 0.3],
            [2, "A", 220, 1.6],
            [1, "B", 220, 0.4],
            ["对，我也这么想。", "A", 200, 2.2],
            [6, "B", 220, 0.3],
            [5, "A", 220, 0.5],
            ["明白了。", "B", 200, 2.4],
            [11, "A", 220, 0.4],
            [9, "B", 220, 0.8],
        ],
    },
    "dialog3": {
        "seed": 22,
        "noise_std": 0.003,
        "lead_s": 0.8,
        "parts": [
            [11, "C", 220, 0.5],
            [10, "A", 220, 0.4],
            ["是的。", "B", 200, 2.3],
            [8, "C", 220, 0.3],
            [7, "A", 220, 1.8],
            ["我同意你的看法。", "B", 200, 0.5],
            [4, "C", 220, 0.4],
            [6, "A", 220, 2.6],
            [3, "B", 220, 0.3],
            ["好吧。", "C", 200, 0.7],
            [1, "A", 220, 2.1],
            [0, "B", 220, 0.4],
            [2, "C", 220, 0.5],
        ],
    },
}

BICIF = "tests/fixtures/models/bicif_paraformer_tiny"
PARAFORMER = "tests/fixtures/models/paraformer_tiny"
PUNC = "tests/fixtures/models/ct_transformer_tiny"
SPK = "tests/fixtures/models/campplus_tiny"
VAD = "tools/fsmn_vad"
_CTOR = {"model": BICIF, "vad_model": VAD, "punc_model": PUNC, "spk_model": SPK}
# run name -> AutoModel ctor (folders relative to the repo, + spk_mode) and generate() options
RUNS = {
    "punc_segment": {"ctor": dict(_CTOR), "call": {}},
    "punc_segment_preset2": {"ctor": dict(_CTOR), "call": {"preset_spk_num": 2}},
    "vad_segment": {"ctor": {**_CTOR, "spk_mode": "vad_segment"}, "call": {}},
    "vad_segment_preset2": {"ctor": {**_CTOR, "spk_mode": "vad_segment"}, "call": {"preset_spk_num": 2}},
    # plain Paraformer: FunASR turns output_timestamp on because a speaker model is loaded, so the
    # CIF-peak timestamps make character times and punctuated sentences (issue 16, item 2)
    "paraformer_punc_segment": {"ctor": {**_CTOR, "model": PARAFORMER}, "call": {}},
    "paraformer_punc_segment_preset2": {"ctor": {**_CTOR, "model": PARAFORMER}, "call": {"preset_spk_num": 2}},
}
MASKED_KEY = mp.MASKED_KEY


def _espeak_voice(text: str, variant: str, pitch: int, speed: int) -> tuple[np.ndarray, int]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng not on PATH")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "tts.wav")
        subprocess.run(
            [exe, "-v", f"cmn+{variant}", "-p", str(pitch), "-s", str(speed), "-w", path, text],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with wavmod.open(path) as w:
            sr, n, width = w.getframerate(), w.getnframes(), w.getsampwidth()
            data = w.readframes(n)
    assert width == 2
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0, sr


def synth_clip(recipe: dict, voices: dict = VOICES, with_truth: bool = False):
    """One clip as int16 at 16 kHz (+ the [start_s, end_s, voice] span of every part)."""
    rng = np.random.RandomState(recipe["seed"])
    pieces = [np.zeros(round(recipe["lead_s"] * FS))]
    truth, pos = [], len(pieces[0])
    for what, voice, speed, pause in recipe["parts"]:
        text = SENTENCES[what] if isinstance(what, int) else what
        v = voices[voice]
        x, sr = _espeak_voice(text, v["variant"], v["pitch"], speed)
        x = mv._resample(x, sr, FS)
        truth.append([round(pos / FS, 4), round((pos + len(x)) / FS, 4), voice])
        pieces += [x, np.zeros(round(pause * FS))]
        pos += len(x) + len(pieces[-1])
    x = np.concatenate(pieces)
    x = x + recipe["noise_std"] * rng.randn(len(x))
    a = mv._int16(np.clip(x, -1.0, 1.0))
    return (a, truth) if with_truth else a


class SpkCapture(mp.Capture):
    """make_pipeline.Capture (VAD, ASR per segment, punctuation) + sv_chunk, ClusterBackend, postprocess."""

    def __init__(self, am):
        super().__init__(am)
        fam = self.fam
        self.orig_chunk, self.orig_post = fam.sv_chunk, fam.postprocess

        def chunk(vad_segments, *a, **k):
            self.sv_calls.append([vad_segments[0][0], vad_segments[0][1], len(vad_segments[0][2])])
            return self.orig_chunk(vad_segments, *a, **k)

        def post(segments, vad_segments, labels, embeddings, **k):
            out = self.orig_post(segments, vad_segments, labels, embeddings, **k)
            self.post.append(
                {
                    "chunks": [[float(s[0]), float(s[1])] for s in segments],
                    "labels_in": np.asarray(labels).tolist(),
                    "embeddings": np.array(embeddings, dtype=np.float32),
                    "turns": [
                        [float(t[0]), float(t[1]), int(t[2])] for t in (out[0] if k.get("return_spk_center") else out)
                    ],
                }
            )
            return out

        fam.sv_chunk, fam.postprocess = chunk, post
        cb = am.cb_model
        self.orig_cb = cb.forward

        def forward(X, **params):
            st = np.random.get_state()
            ref = np.random.RandomState(0).get_state()
            same = st[0] == ref[0] and np.array_equal(st[1], ref[1]) and st[2:] == ref[2:]
            labels = self.orig_cb(X, **params)
            self.cb.append(
                {
                    "params": {k: v for k, v in params.items()},
                    "rng_is_seed0": bool(same),
                    "rng_state": None if same else (np.array(st[1], dtype=np.uint32), int(st[2])),
                    "X": np.array(X.detach().cpu().numpy() if hasattr(X, "detach") else X, dtype=np.float32),
                    "labels": np.asarray(labels).tolist(),
                }
            )
            return labels

        cb.forward = forward

    def reset(self):
        super().reset()
        self.sv_calls, self.post, self.cb = [], [], []

    def remove(self):
        super().remove()
        self.fam.sv_chunk, self.fam.postprocess = self.orig_chunk, self.orig_post
        del self.am.cb_model.forward


def main() -> None:
    import funasr
    import sklearn
    import torch
    from funasr import AutoModel

    sys.path.insert(0, HERE)
    from common import save_npz, write_json

    assert os.path.exists(os.path.join(VAD_DIR, "model.pt")), "run tools/fetch_fsmn_vad.sh first"
    os.makedirs(OUT, exist_ok=True)
    clips, truths = {}, {}
    for name, r in CLIPS.items():
        clips[name], truths[name] = synth_clip(r, with_truth=True)
        assert sha256(synth_clip(r)) == sha256(clips[name]), name  # determinism
    write_json(
        os.path.join(OUT, "recipe.json"),
        {
            "sentences": SENTENCES,
            "voices": VOICES,
            "clips": CLIPS,
            "truth": truths,
            "sha256": {k: sha256(v) for k, v in clips.items()},
            "samples": {k: len(v) for k, v in clips.items()},
        },
    )

    runs_out, arrays = {}, {}
    for run, cfg in RUNS.items():
        out = {}
        for name, a in clips.items():
            ctor = {k: (os.path.join(REPO, v) if k != "spk_mode" else v) for k, v in cfg["ctor"].items()}
            am = AutoModel(**ctor, device="cpu", disable_update=True, disable_pbar=True, disable_log=True)
            cap = SpkCapture(am)
            res = jsonable_result(am.generate(input=to_float(a), **cfg["call"]))
            cap.remove()
            assert len(cap.vad) == 1 and len(cap.vad[0]) == 1
            assert len(cap.cb) == 1 and len(cap.post) == 1, (len(cap.cb), len(cap.post))
            segs = cap.vad[0][0]["value"]
            cb, post = cap.cb[0], cap.post[0]
            assert np.array_equal(cb["X"], post["embeddings"]) and cb["labels"] == post["labels_in"]
            entry = {"result": res, "vad_segments": segs, "segments": [cap.asr[i] for i in range(len(segs))]}
            assert len(cap.punc) == 1
            entry.update(
                punc_input=cap.punc[0]["input"], punc_text=cap.punc[0]["text"], punc_array=cap.punc[0]["punc_array"]
            )
            entry.update(
                chunks=post["chunks"],
                sv_chunk_calls=cap.sv_calls,
                labels=cb["labels"],
                turns=post["turns"],
                oracle_num=cb["params"].get("oracle_num"),
                rng_is_seed0=cb["rng_is_seed0"],
            )
            if name not in arrays:
                arrays[name] = post["embeddings"]
            elif not np.array_equal(arrays[name], post["embeddings"]):  # never seen: same chunks, same model
                arrays[f"{run}/{name}"] = post["embeddings"]
            if not cb["rng_is_seed0"]:
                arrays[f"{run}/{name}/rng_keys"] = cb["rng_state"][0]
                arrays[f"{run}/{name}/rng_pos"] = np.array(cb["rng_state"][1])
            out[name] = entry
            nspk = len(set(cb["labels"]))
            print(
                run,
                name,
                f"{len(segs)} segments, {len(post['chunks'])} chunks, {nspk} speakers, "
                f"{len(post['turns'])} turns, rng seed0={cb['rng_is_seed0']}, "
                f"{len(res['sentence_info'])} sentences, spk {[s['spk'] for s in res['sentence_info']]}",
            )
        runs_out[run] = cfg | {"clips": out}

    meta = {
        "versions": {
            "funasr": funasr.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "sklearn": sklearn.__version__,
            "scipy": __import__("scipy").__version__,
        },
        "ctor_common": {"device": "cpu", "disable_update": True, "disable_pbar": True, "disable_log": True},
        "input": "float32 numpy array (int16 / 32768) of the clip; a fresh AutoModel per generate() call",
        "key_note": f"FunASR keys a numpy input 'rand_key_<13 random chars>'; stored as {MASKED_KEY!r}",
    }
    mp.write_json_compact(os.path.join(OUT, "results.json"), {"meta": meta, "runs": runs_out})
    save_npz(os.path.join(OUT, "embeddings.npz"), **arrays)


def jsonable_result(res) -> dict:
    res = mp.jsonable(res)
    assert len(res) == 1
    r = dict(res[0])
    if str(r.get("key", "")).startswith("rand_key_"):
        r["key"] = MASKED_KEY
    return r


if __name__ == "__main__":
    main()
