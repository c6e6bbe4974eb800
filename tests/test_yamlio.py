"""funasr_lite.yamlio.read_yaml: the one YAML reader, and what each caller does with an empty file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from funasr_lite.bin import dump_fbank, inference
from funasr_lite.errors import ModelError
from funasr_lite.modelio import open_model_dir
from funasr_lite.yamlio import read_yaml

FIX = Path(__file__).parent / "fixtures" / "models"


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_empty_file_is_an_empty_mapping(tmp_path: Path, text: str) -> None:
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    assert read_yaml(tmp_path / "c.yaml") == {}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (None, "config file does not exist"),
        (b"- a\n- b\n", "config must be a YAML mapping, got list"),
        (b"a: 1\n  b: : c\n", "config is not valid YAML (line 2: "),
        (b"a: \xff\n", "config is not UTF-8 (byte 3)"),
    ],
)
def test_problems_are_one_model_error_naming_the_file(tmp_path: Path, data: bytes | None, words: str) -> None:
    path = tmp_path / "c.yaml"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(ModelError) as err:
        read_yaml(path)
    assert str(err.value).startswith(f"{path}: {words}")


def test_callers_on_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing set\n", encoding="utf-8")
    # a frontend config: every option at its default
    assert dump_fbank.load_frontend(str(empty)).fs == 16000
    # inference --config: no defaults changed
    parser = inference.get_parser()
    inference.apply_config_defaults(parser, ["--config", str(empty)])
    assert parser.get_default("batch_size_s") == 300
    # a model folder: refused, a model needs its blocks
    model = tmp_path / "model"
    shutil.copytree(FIX / "paraformer_tiny", model)
    (model / "config.yaml").write_text("", encoding="utf-8")
    with pytest.raises(ModelError, match="config.yaml: config is empty"):
        open_model_dir(model)
