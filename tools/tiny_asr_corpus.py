"""A tiny synthetic ASR training setup: corpus, token list, CMVN and a 2-block Paraformer config.

Shared by the tests (``tests/conftest.py``) and ``tools/crash_test.py``'s ``train`` target, so
both train exactly the same small model.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TINY_ASR = {  # a 2-block Paraformer: seconds per training run on 2 cores
    "encoder_conf": {"output_size": 32, "attention_heads": 2, "linear_units": 64, "num_blocks": 2},
    "decoder_conf": {"attention_heads": 2, "linear_units": 64, "num_blocks": 1, "att_layer_num": 1},
    "predictor_conf": {"idim": 32},
    "dataset_conf": {"batch_size": 1200, "num_workers": 0, "preload": "none", "dither": 1.0},
    # epochs, not the recipe's step budget: dev at each epoch end, a warm-up of 5 steps
    "train_conf": {
        "log_interval": 1,
        "use_tensorboard": False,
        "keep_nbest_models": 3,
        "avg_nbest_model": 2,
        "max_epoch": 30,
        "max_steps": 0,
        "validate_interval": 0,
    },
}
TINY_SCHEDULER = ("warmuplr", {"warmup_steps": 5})


def tiny_asr_corpus(
    root: Path, num_train: int, num_dev: int, num_test: int, seed: int, train_conf: dict | None = None
) -> dict[str, Path]:
    """A synthetic corpus (2-4 characters of 40), its token list and CMVN, and ``TINY_ASR``'s config
    (``train_conf`` added) under ``root``; the paths the trainer takes."""
    import yaml  # noqa: PLC0415
    from recipe_local import add_recipe_local  # noqa: PLC0415  (tools/, beside this file)

    from funasr_lite.bin import compute_cmvn, make_tokens  # noqa: PLC0415

    add_recipe_local("synth")
    import synth_corpus  # noqa: PLC0415  (egs/synth/local)

    assert (
        synth_corpus.main(
            [
                "--out_dir",
                str(root / "data"),
                "--wav_dir",
                str(root / "wavs"),
                "--num_train",
                str(num_train),
                "--num_dev",
                str(num_dev),
                "--num_test",
                str(num_test),
                "--top_chars",
                "40",
                "--min_chars",
                "2",
                "--max_chars",
                "4",
                "--nj",
                "2",
                "--seed",
                str(seed),
            ]
        )
        == 0
    )
    assert make_tokens.main(["--text", str(root / "data/train/text"), "--out_dir", str(root / "lang")]) == 0
    assert (
        compute_cmvn.main(
            [
                "--wav_scp",
                str(root / "data/train/wav.scp"),
                "--frontend_conf",
                str(REPO / "conf/frontend_paraformer.yaml"),
                "--out_dir",
                str(root / "cmvn"),
            ]
        )
        == 0
    )
    conf = yaml.safe_load((REPO / "conf/paraformer_synth_cpu.yaml").read_text(encoding="utf-8"))
    for k, v in TINY_ASR.items():
        conf[k].update(v)
    conf["scheduler"], conf["scheduler_conf"] = TINY_SCHEDULER[0], dict(TINY_SCHEDULER[1])
    conf["train_conf"].update(train_conf or {})
    (root / "tiny.yaml").write_text(yaml.safe_dump(conf), encoding="utf-8")
    return corpus_paths(root)


def tiny_recipe_config(path: Path, **train_conf: object) -> Path:
    """conf/paraformer_synth_cpu.yaml with a 1-block encoder/decoder (seconds per epoch), trained by
    epochs with dev at each epoch end (not the recipe's step budget), ``train_conf`` added; written
    to ``path``. Used by the recipe tests that run egs/*/run.sh end to end."""
    import yaml  # noqa: PLC0415

    conf = yaml.safe_load((REPO / "conf/paraformer_synth_cpu.yaml").read_text(encoding="utf-8"))
    conf["encoder_conf"].update(output_size=32, attention_heads=2, linear_units=64, num_blocks=1)
    conf["decoder_conf"].update(attention_heads=2, linear_units=64, num_blocks=1, att_layer_num=1)
    conf["predictor_conf"]["idim"] = 32
    conf["dataset_conf"].update(batch_size=2000, num_workers=0)
    conf["train_conf"].update(max_steps=0, validate_interval=0, **train_conf)
    path.write_text(yaml.safe_dump(conf, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def train_args(c: dict[str, Path], out: Path, *extra: str, dev: bool = True) -> list[str]:
    """``bin/train`` arguments for a corpus of :func:`corpus_paths` (CPU, into ``out``), then ``extra``;
    ``dev=False`` leaves the dev set out."""
    args = ["--config", str(c["conf"]), "--train_data", str(c["train"])]
    args += ["--dev_data", str(c["dev"])] if dev else []
    args += ["--token_list", str(c["tokens"]), "--cmvn_file", str(c["cmvn"]), "--output_dir", str(out)]
    return [*args, "--device", "cpu", *extra]


def corpus_paths(root: Path) -> dict[str, Path]:
    """The paths under ``root`` that :func:`tiny_asr_corpus` writes (``conf`` last)."""
    return {
        "root": root,
        "train": root / "data/train",
        "dev": root / "data/dev",
        "tokens": root / "lang/tokens.json",
        "cmvn": root / "cmvn/am.mvn",
        "conf": root / "tiny.yaml",
    }
