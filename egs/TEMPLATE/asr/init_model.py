#!/usr/bin/env python3
"""What asr.sh's finetuning mode needs to know about the model folder it starts from (--init_model).

    python init_model.py check MODEL_DIR                   # a usable Paraformer folder? (one-line error, exit 1)
    python init_model.py frontend_conf MODEL_DIR OUT.yaml  # its frontend_conf, for dump_fbank
    python init_model.py token_list MODEL_DIR              # prints the path of its token list file

The folder is read with funasr_lite's model-folder reader (config, checkpoint, am.mvn, tokens),
so what passes here is what the trainer and the decoder will load. Nothing is downloaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from funasr_lite.errors import ModelError
from funasr_lite.fileio import write_text_atomic
from funasr_lite.modelio import open_model_dir, read_token_list

ASR_CLASSES = ("Paraformer", "BiCifParaformer")
DOWNLOAD_HINT = (
    "download it yourself, e.g. `modelscope download --model "
    "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch --local_dir "
    "models/paraformer-large`, and pass that folder"
)


def open_asr_dir(path: str):
    if not Path(path).is_dir():
        raise ModelError(path, f"no such model folder; {DOWNLOAD_HINT}")
    md = open_model_dir(path)
    if md.model_class not in ASR_CLASSES:
        raise ModelError(path, f"holds a {md.model_class} model, not a Paraformer ({', '.join(ASR_CLASSES)})")
    if not isinstance(md.config.get("frontend_conf"), dict):
        raise ModelError(path, "config has no frontend_conf")
    return md


def token_list_file(md) -> Path:
    """The token file the reader used: configuration.json's hint, else tokens.json, else tokens.txt."""
    names = []
    cfg = md.path / "configuration.json"
    if cfg.is_file():
        metas = json.loads(cfg.read_text(encoding="utf-8")).get("file_path_metas", {})
        hint = (metas.get("tokenizer_conf") or {}).get("token_list") if isinstance(metas, dict) else None
        if isinstance(hint, str):
            names.append(Path(hint).name)
    for name in names + ["tokens.json", "tokens.txt"]:
        path = md.path / name
        if path.is_file() and read_token_list(path) == md.token_list:
            return path
    raise ModelError(md.path, "the token list is not in a tokens.json/tokens.txt file")


def main(argv: list[str]) -> int:
    if (
        len(argv) < 2
        or argv[0] not in ("check", "frontend_conf", "token_list")
        or (argv[0] == "frontend_conf") != (len(argv) == 3)
        or len(argv) > 3
    ):
        print("usage:\n" + "\n".join(__doc__.strip().splitlines()[2:5]), file=sys.stderr)
        return 2
    try:
        md = open_asr_dir(argv[1])
        if argv[0] == "check":
            print(
                f"{md.path}: {md.model_class}, {len(md.token_list or [])} tokens, "
                f"checkpoint {md.checkpoint.name}, CMVN {md.cmvn_file.name if md.cmvn_file else None}"
            )
        elif argv[0] == "frontend_conf":
            conf = {k: v for k, v in md.config["frontend_conf"].items() if k != "cmvn_file"}
            Path(argv[2]).parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(argv[2], yaml.safe_dump(conf, sort_keys=False))
        else:
            print(token_list_file(md))
    except ModelError as e:
        print(f"init_model.py: error: --init-model {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
