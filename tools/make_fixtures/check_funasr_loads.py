"""Check that a folder written by funasr_lite's export_model_dir is a drop-in FunASR 1.x folder.

Three modes (the last one is the check; it is the only one that imports funasr):

1. ``--make_demo WORK`` (main venv): a small random Paraformer and BiCif-Paraformer
   (``Paraformer.from_config`` on the tiny fixture config, seeded, LayerNorm/bias constants
   perturbed, CIF head and output layer scaled so that a few, varied tokens fire), exported with
   ``funasr_lite.train.asr.export.export_model_dir`` to ``WORK/{paraformer,bicif}_export``, plus
   espeak-ng clips at 16 kHz (``WORK/wav/*.wav``, ``WORK/wav.scp``).
2. ``--make_expect --model_dir D --wav_scp S --expect E.json`` (main venv): funasr_lite decodes
   each clip (``SpeechRecognizer``, dither 0) and writes ``{key: {text, token_ids, timestamp}}``.
3. ``--model_dir D --wav_scp S --expect E.json`` (run with ``tools/funasr_venv/bin/python``):
   ``funasr.AutoModel(model=D, disable_update=True, device="cpu")`` with dither 0 and no hub
   access; checks that FunASR's model holds exactly ``model.pt`` (FunASR loads non-strictly),
   decodes each clip alone (batch 1) and compares text, token ids (captured at
   ``tokenizer.ids2tokens``) and timestamps with E.json. Exit 0 if identical, else 1.

Example::

    python tools/make_fixtures/check_funasr_loads.py --make_demo /tmp/export_check
    for m in paraformer bicif; do
      python tools/make_fixtures/check_funasr_loads.py --make_expect --model_dir /tmp/export_check/${m}_export \\
          --wav_scp /tmp/export_check/wav.scp --expect /tmp/export_check/${m}_expect.json
      tools/funasr_venv/bin/python tools/make_fixtures/check_funasr_loads.py \\
          --model_dir /tmp/export_check/${m}_export \\
          --wav_scp /tmp/export_check/wav.scp --expect /tmp/export_check/${m}_expect.json
    done
"""

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
TINY = os.path.join(REPO, "tests", "fixtures", "models")
CLIPS = {"nihao_shijie": "你好世界", "jintian_tianqi": "今天天气很好", "women_shi": "我们是中国人"}


def read_scp(path):
    with open(path, encoding="utf-8") as f:
        return [tuple(line.strip().split(maxsplit=1)) for line in f if line.strip()]


def make_demo(work):
    """Export two small random models through export_model_dir and speak the clips (main venv)."""
    sys.path.insert(0, REPO)
    import soundfile as sf
    import torch
    import yaml

    from funasr_lite.frontend.audio import load_audio
    from funasr_lite.models.paraformer.build import ASR_CLASSES
    from funasr_lite.train.asr.export import export_model_dir

    os.makedirs(os.path.join(work, "wav"), exist_ok=True)
    with open(os.path.join(work, "wav.scp"), "w", encoding="utf-8") as scp:
        for key, text in CLIPS.items():
            raw, wav = os.path.join(work, "wav", key + ".22k.wav"), os.path.join(work, "wav", key + ".wav")
            subprocess.run(["espeak-ng", "-v", "cmn", "-w", raw, text], check=True, capture_output=True)
            sf.write(wav, load_audio(raw).waveform, 16000, subtype="PCM_16")  # 16 kHz: no resampler difference
            os.remove(raw)
            scp.write(f"{key} {wav}\n")
    for name, fixture, seed, (scale, bias) in (
        ("paraformer", "paraformer_tiny", 3, (-4.0, -2.55)),
        ("bicif", "bicif_paraformer_tiny", 4, (-4.0, -2.3)),
    ):
        src = os.path.join(TINY, fixture)
        with open(os.path.join(src, "config.yaml"), encoding="utf-8") as f:
            config = yaml.safe_load(f)
        # what a resolved training config holds: file paths, dither on, training blocks
        config["frontend_conf"].update(dither=1.0, cmvn_file=os.path.join(src, "am.mvn"))
        config["tokenizer_conf"]["token_list"] = os.path.join(src, "tokens.json")
        config.update(
            optim="adam",
            optim_conf={"lr": 0.0005},
            scheduler="warmuplr",
            scheduler_conf={"warmup_steps": 30000},
            train_data_set_list="data/train/data.jsonl",
        )
        with open(os.path.join(src, "tokens.json"), encoding="utf-8") as f:
            tokens = json.load(f)
        torch.manual_seed(seed)
        model = ASR_CLASSES[config["model"]].from_config(config, len(tokens))
        g = torch.Generator().manual_seed(seed)
        state = {}
        for k, v in model.state_dict().items():
            flat = v.flatten()
            if v.is_floating_point() and v.numel() and bool((flat == flat[0]).all()):
                v = v + 0.1 * torch.randn(v.shape, generator=g)
            state[k] = v
        state["predictor.cif_output.weight"] = state["predictor.cif_output.weight"] * scale
        state["predictor.cif_output.bias"] = torch.full_like(state["predictor.cif_output.bias"], bias)
        state["decoder.output_layer.weight"] = state["decoder.output_layer.weight"] * 4.0  # ids depend on the input
        out = export_model_dir(state, config, tokens, os.path.join(src, "am.mvn"), os.path.join(work, f"{name}_export"))
        print(f"exported {out}: {sorted(os.listdir(out))}")


def make_expect(model_dir, wav_scp, expect):
    """funasr_lite's results for every clip of wav_scp (main venv)."""
    sys.path.insert(0, REPO)
    from funasr_lite.asr import SpeechRecognizer
    from funasr_lite.frontend.audio import load_audio

    rec = SpeechRecognizer(model_dir, dither=0.0)
    out = {}
    for key, path in read_scp(wav_scp):
        for batch in rec.recognize([(key, load_audio(path).waveform)]):
            for r in batch:
                out[r.key] = {"text": r.text, "token_ids": r.token_ids, "timestamp": r.timestamp}
    with open(expect, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for key, r in out.items():
        print(f"{key}: {r['text']!r} ids={r['token_ids']}")


def check(model_dir, wav_scp, expect):
    """FunASR's results vs E.json; returns the number of differences."""
    import torch

    logging.disable(logging.WARNING)
    from funasr import AutoModel

    am = AutoModel(
        model=model_dir,
        disable_update=True,
        device="cpu",
        disable_pbar=True,
        log_level="ERROR",
        hub="ms",
        frontend_conf={"dither": 0.0},
    )
    assert am.kwargs["frontend"].dither == 0.0, "dither override not applied"
    problems = []
    saved = torch.load(os.path.join(model_dir, "model.pt"), map_location="cpu", weights_only=True)
    got = am.model.state_dict()
    if saved.keys() != got.keys() or not all(torch.equal(saved[k], got[k]) for k in saved):
        problems.append(
            f"FunASR's {type(am.model).__name__} does not hold model.pt exactly "
            f"(missing {sorted(saved.keys() - got.keys())}, extra {sorted(got.keys() - saved.keys())})"
        )
    print(f"FunASR built {type(am.model).__name__} with {len(got)} tensors; equal to model.pt: {not problems}")
    # token ids: recorded where Paraformer.inference turns them into tokens (the class method is
    # patched: generate() works on a copy of the tokenizer object)
    tok_cls, seen = type(am.kwargs["tokenizer"]), []
    orig = tok_cls.ids2tokens

    def ids2tokens(self, ids, *a, **kw):
        seen.append([int(i) for i in ids])
        return orig(self, ids, *a, **kw)

    tok_cls.ids2tokens = ids2tokens
    with open(expect, encoding="utf-8") as f:
        want = json.load(f)
    for key, path in read_scp(wav_scp):
        seen.clear()
        res = am.generate(input=path, key=key, batch_size=1)
        r = res[0] if res else {"text": ""}
        ids = seen[0] if seen else []
        e = want.get(key)
        line = f"{key}: funasr {r.get('text')!r} ids={ids}"
        if e is None:
            problems.append(f"{key}: not in {expect}")
        else:
            for field, a, b in (
                ("text", r.get("text"), e["text"]),
                ("token_ids", ids, e["token_ids"]),
                ("timestamp", r.get("timestamp"), e.get("timestamp")),
            ):
                if a != b:
                    problems.append(f"{key}: {field} differs: funasr {a!r} vs funasr_lite {b!r}")
        print(line + ("" if e is None else f" | funasr_lite {e['text']!r} ids={e['token_ids']}"))
    missing = sorted(set(want) - {k for k, _ in read_scp(wav_scp)})
    problems += [f"{k}: in {expect} but not in {wav_scp}" for k in missing]
    print("\n".join(problems) if problems else "IDENTICAL: text, token ids and timestamps of every clip")
    return len(problems)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--make_demo", metavar="WORK", help="build the demo folders and clips in WORK (main venv)")
    p.add_argument("--make_expect", action="store_true", help="write E.json with funasr_lite (main venv)")
    p.add_argument("--model_dir")
    p.add_argument("--wav_scp")
    p.add_argument("--expect")
    a = p.parse_args()
    if a.make_demo:
        if shutil.which("espeak-ng") is None:
            sys.exit("espeak-ng is needed for the demo clips")
        make_demo(a.make_demo)
        return 0
    if not (a.model_dir and a.wav_scp and a.expect):
        p.error("--model_dir, --wav_scp and --expect are required")
    if a.make_expect:
        make_expect(a.model_dir, a.wav_scp, a.expect)
        return 0
    return 1 if check(a.model_dir, a.wav_scp, a.expect) else 0


if __name__ == "__main__":
    sys.exit(main())
