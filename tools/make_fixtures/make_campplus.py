"""CAM++ / diarization-chunking golden fixtures (tests/fixtures/campplus/) from FunASR 1.4.16.

    tools/funasr_venv/bin/python tools/make_fixtures/make_campplus.py
    (needs espeak-ng, tests/fixtures/models/* from make_models.py, and tools/fsmn_vad for part 3)

1. `sv_chunk` cases: FunASR's own slicing (`funasr.utils.vad_utils.slice_padding_audio_samples`,
   16 samples per ms) and `funasr.models.campplus.utils.sv_chunk` on the test clip for several
   segment lists, fed exactly as `AutoModel.inference_with_vad` feeds them
   (`[[start_ms / 1000.0, end_ms / 1000.0, np.array(segment_audio)]]`). Stored: chunk times
   (`repr` floats, exact) and sha256 of every chunk's float32 bytes.
2. Embeddings: `AutoModel(model=models/campplus_tiny).generate(input=<chunk audio list>)` on the
   chunks of case `multi` (incl. a zero-padded short-segment chunk). CPU: batch size 1, i.e. one
   forward pass per chunk, as in the diarization pipeline. Also the same chunks in one batch.
3. Pipeline capture: `AutoModel(model=bicif_paraformer_tiny, vad_model=tools/fsmn_vad,
   punc_model=ct_transformer_tiny, spk_model=campplus_tiny).generate(input=clip,
   max_end_silence_time=800)`, with `postprocess` wrapped to record what FunASR clusters: the chunk
   list `all_segments` (times, sha256) and the embedding matrix, plus the VAD segments.
"""

import hashlib
import logging
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES, espeak_mandarin, save_npz, to_int16_grid, write_json  # noqa: E402

logging.disable(logging.WARNING)
import funasr  # noqa: E402
import funasr.auto.auto_model as auto_model_mod  # noqa: E402
from funasr import AutoModel  # noqa: E402
from funasr.models.campplus.utils import sv_chunk  # noqa: E402
from funasr.utils.vad_utils import slice_padding_audio_samples  # noqa: E402

OUT = os.path.join(FIXTURES, "campplus")
MODELS = os.path.join(FIXTURES, "models")
REPO = os.path.abspath(os.path.join(FIXTURES, "..", ".."))
VAD_DIR = os.path.join(REPO, "tools", "fsmn_vad")
FS = 16000

# (text, espeak speed, pause after in s); lead 0.3 s of silence.
PARTS = [("你好", 170, 1.1), ("今天天气很好。", 200, 1.1), ("好的", 200, 1.1), ("谢谢", 200, 0.2)]

CASES = {
    "short_padded": [[0, 1000]],
    "tiny_16_samples": [[0, 1]],
    "exact_1p5s": [[3100, 4600]],
    "long_right_aligned": [[250, 2980]],
    "two_windows_exact": [[1000, 4000]],
    "end_beyond_audio": [[4700, 99999]],
    "empty": [[500, 500]],
    "non_integer_ms": [[12.7, 1733.3], [2000.5, 2700.25]],
    "multi": [[300, 1100], [1250, 3980], [4300, 5800]],
}


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


def make_clip():
    pieces = [np.zeros(int(0.3 * FS), dtype=np.float32)]
    for i, (text, speed, pause) in enumerate(PARTS):
        x = espeak_mandarin(text, seed=60 + i, speed=speed)
        assert x is not None, "espeak-ng is required"
        pieces += [x, np.zeros(int(round(pause * FS)), dtype=np.float32)]
    x = np.concatenate(pieces).astype(np.float64)
    x += 0.001 * np.random.RandomState(69).randn(len(x))
    # + 0.0 turns the grid's -0.0 samples into +0.0, so that the stored int16 copy gives the same bytes
    return to_int16_grid(np.clip(x, -1, 1)) + np.float32(0.0)


def funasr_chunks(wave, segments_ms):
    """Exactly inference_with_vad's per-segment path (one segment per ASR batch on CPU)."""
    speech = torch.from_numpy(wave)
    out = []
    for i, seg in enumerate(segments_ms):
        speech_j, _ = slice_padding_audio_samples(speech, len(speech), [(seg, i)])
        vad_segments = [[seg[0] / 1000.0, seg[1] / 1000.0, np.array(speech_j[0])]]
        out.extend(sv_chunk(vad_segments))
    return out


def describe(chunks):
    return [
        {
            "start": repr(c[0]),
            "end": repr(c[1]),
            "n_samples": int(c[2].shape[0]),
            "dtype": str(c[2].dtype),
            "sha256": sha(c[2]),
        }
        for c in chunks
    ]


def embed(am, chunk_audio, **kw):
    res = am.generate(input=list(chunk_audio), **kw)
    return torch.cat([r["spk_embedding"] for r in res], dim=0).numpy()


def pipeline_capture(wave):
    captured = {}
    orig_post = auto_model_mod.postprocess
    orig_chunk = auto_model_mod.sv_chunk

    def post(segments, vad_segments, labels, embeddings, **kw):
        captured["all_segments"] = [list(s) for s in segments]
        captured["embeddings"] = np.array(embeddings, dtype=np.float32)
        captured["labels"] = np.asarray(labels).tolist()
        return orig_post(segments, vad_segments, labels, embeddings, **kw)

    def chunk(vad_segments, *a, **kw):
        captured.setdefault("sv_chunk_calls", []).append(
            [repr(vad_segments[0][0]), repr(vad_segments[0][1]), int(len(vad_segments[0][2]))]
        )
        return orig_chunk(vad_segments, *a, **kw)

    auto_model_mod.postprocess, auto_model_mod.sv_chunk = post, chunk
    try:
        am = AutoModel(
            model=os.path.join(MODELS, "bicif_paraformer_tiny"),
            vad_model=VAD_DIR,
            punc_model=os.path.join(MODELS, "ct_transformer_tiny"),
            spk_model=os.path.join(MODELS, "campplus_tiny"),
            device="cpu",
            disable_update=True,
            disable_pbar=True,
            log_level="ERROR",
        )
        vad = AutoModel(model=VAD_DIR, device="cpu", disable_update=True, disable_pbar=True, log_level="ERROR")
        vad_segments = vad.generate(input=wave, max_end_silence_time=800)[0]["value"]
        res = am.generate(input=wave, max_end_silence_time=800)[0]
    finally:
        auto_model_mod.postprocess, auto_model_mod.sv_chunk = orig_post, orig_chunk
    return captured, vad_segments, res


def main():
    os.makedirs(OUT, exist_ok=True)
    wave = make_clip()
    notes = []

    # 1) sv_chunk cases
    cases = {}
    for name, segs in CASES.items():
        ch = funasr_chunks(wave, segs)
        cases[name] = {"segments_ms": segs, "chunks": describe(ch)}
        notes.append(f"{name}: {len(ch)} chunks " + ", ".join(f"[{c[0]:.4f}, {c[1]:.4f}]" for c in ch))

    # 2) embeddings of case "multi" through FunASR's CAM++ model
    multi = funasr_chunks(wave, CASES["multi"])
    am = AutoModel(
        model=os.path.join(MODELS, "campplus_tiny"),
        device="cpu",
        disable_update=True,
        disable_pbar=True,
        log_level="ERROR",
    )
    am.model.eval()
    assert am.kwargs.get("batch_size", 1) == 1
    emb = embed(am, [c[2] for c in multi])
    emb_batched = embed(am, [c[2] for c in multi], batch_size=len(multi))
    # the same through CAMPPlus.inference directly, one chunk at a time (what generate() does)
    with torch.no_grad():
        direct = np.concatenate(
            [am.model.inference([c[2]], device="cpu")[0][0]["spk_embedding"].numpy() for c in multi]
        )
    assert np.array_equal(direct, emb)
    notes.append(
        f"multi embeddings {emb.shape}; batch {len(multi)} vs batch 1 max|diff| "
        f"{float(np.abs(emb_batched - emb).max()):.3g}"
    )

    # 3) the real pipeline
    captured, vad_segments, res = pipeline_capture(wave)
    ours = funasr_chunks(wave, vad_segments)
    assert [(c[0], c[1]) for c in ours] == [(s[0], s[1]) for s in captured["all_segments"]]
    assert [sha(c[2]) for c in ours] == [sha(s[2]) for s in captured["all_segments"]]
    pipe_direct = embed(am, [s[2] for s in captured["all_segments"]])
    pipe_diff = float(np.abs(pipe_direct - captured["embeddings"]).max())
    notes.append(
        f"pipeline: VAD {vad_segments}, {len(captured['all_segments'])} chunks, labels "
        f"{captured['labels']}; standalone generate vs pipeline embeddings max|diff| {pipe_diff:.3g}"
    )

    write_json(
        os.path.join(OUT, "chunks.json"),
        {
            "funasr": funasr.__version__,
            "fs": FS,
            "waveform": "embeddings.npz: waveform_int16 / 32768 as float32",
            "cases": cases,
            "pipeline": {
                "call": "AutoModel(model=bicif_paraformer_tiny, vad_model=tools/fsmn_vad, punc_model="
                "ct_transformer_tiny, spk_model=campplus_tiny).generate(input=wave, "
                "max_end_silence_time=800)",
                "vad_segments": vad_segments,
                "sv_chunk_calls": captured["sv_chunk_calls"],
                "all_segments": describe(captured["all_segments"]),
                "labels": captured["labels"],
                "text": res.get("text"),
            },
        },
    )
    save_npz(
        os.path.join(OUT, "embeddings.npz"),
        waveform_int16=np.round(wave.astype(np.float64) * 32768).astype(np.int16),
        multi_embeddings=emb,
        multi_embeddings_batched=emb_batched,
        pipeline_embeddings=captured["embeddings"],
    )
    print("\n".join(notes))


if __name__ == "__main__":
    main()
