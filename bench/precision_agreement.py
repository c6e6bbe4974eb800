"""Token agreement with fp32, and CER, of the low-precision paths on a labelled test set.

    python bench/precision_agreement.py --model egs/synth/asr/exp/paraformer_synth_cpu/model_dir \\
        --data egs/synth/asr/data/test [--device cpu] [--settings fp32,bf16,fp16,int8] [--json OUT]

Decodes ``--data``'s ``wav.scp`` with the ASR model once per setting (``fp32``, ``bf16``,
``fp16``: ``--dtype``; ``int8``: ``--quantize int8``, CPU only) and reports, per setting: token
agreement with the fp32 tokens (1 - edit distance / fp32 token count, over the whole set), the
share of utterances with identical tokens, CER against ``--data``'s ``text``, and the decoding time.
The issue's bar: agreement >= 99.5 % for bf16/fp16.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from funasr_lite.asr import SpeechRecognizer  # noqa: E402
from funasr_lite.data.kaldi_lists import read_text  # noqa: E402
from funasr_lite.frontend.audio import load_wav_scp  # noqa: E402
from funasr_lite.scoring.align import align, count_ops  # noqa: E402

SETTINGS = {"fp32": ("fp32", None), "bf16": ("bf16", None), "fp16": ("fp16", None), "int8": ("fp32", "int8")}


def decode(model: str, device: str, setting: str, items: list) -> tuple[dict[str, list[str]], float]:
    dtype, quantize = SETTINGS[setting]
    asr = SpeechRecognizer(model, device=device, dtype=dtype, quantize=quantize)
    with torch.inference_mode():
        list(asr.recognize(items[:8]))  # warm-up
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = {r.key: r.tokens for batch in asr.recognize(items) for r in batch}
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return out, time.perf_counter() - start


def errors(ref: list[str], hyp: list[str]) -> int:
    return 0 if ref == hyp else count_ops(align(ref, hyp)).errors


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--device", default="cpu")
    p.add_argument("--settings", default="fp32,bf16,int8")
    p.add_argument("--json")
    args = p.parse_args()
    items = [(k, a.waveform) for k, a in load_wav_scp(args.data / "wav.scp") if not isinstance(a, Exception)]
    refs = {k: list(v.replace(" ", "")) for k, v in read_text(args.data / "text").items()}
    audio_s = sum(len(w) for _, w in items) / 16000
    settings = args.settings.split(",")
    if "fp32" not in settings:
        settings = ["fp32"] + settings
    rows, base = [], None
    for s in settings:
        tokens, wall = decode(args.model, args.device, s, items)
        base = base or tokens
        n_base = sum(len(t) for t in base.values())
        agree = 1 - sum(errors(base[k], tokens[k]) for k in base) / max(n_base, 1)
        same = sum(base[k] == tokens[k] for k in base) / max(len(base), 1)
        n_ref = sum(len(refs[k]) for k in tokens if k in refs)
        cer = sum(errors(refs[k], list("".join(tokens[k]))) for k in tokens if k in refs) / max(n_ref, 1)
        rows.append(
            {
                "setting": s,
                "token_agreement": agree,
                "identical_utts": same,
                "cer": cer,
                "wall_s": wall,
                "rtfx": audio_s / wall,
            }
        )
        print(
            f"{s:5s}: agreement with fp32 {100 * agree:.2f} % ({100 * same:.1f} % utterances identical); "
            f"CER {100 * cer:.2f} %; {wall:.2f} s for {audio_s:.0f} s of audio ({audio_s / wall:.0f}x realtime)"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "model": args.model,
                    "data": str(args.data),
                    "device": args.device,
                    "utterances": len(items),
                    "audio_s": audio_s,
                    "torch": torch.__version__,
                    "rows": rows,
                },
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
