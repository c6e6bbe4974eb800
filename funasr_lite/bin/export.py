"""Export a model folder for deployment: ONNX (FunASR's layout, for funasr-onnx) or TorchScript.

    python -m funasr_lite.bin.export --model DIR --type onnx [--quantize int8] --output_dir OUT
    python -m funasr_lite.bin.export --model DIR --type torchscript --output_dir OUT

``DIR``: any folder funasr_lite loads (official 1.x/0.x layouts, a recipe's ``model_dir/``).
``OUT`` gets ``model.onnx`` (and ``model_quant.onnx`` with ``--quantize int8``) or
``model.torchscript``, next to ``config.yaml``, ``am.mvn`` and ``tokens.json``. ONNX needs the
``onnx`` extra (``pip install 'funasr_lite[onnx]'``). See ``docs/deployment.md``.

:data:`EXPORTERS` maps a folder's model class (``modelio``'s ``ModelDir.model_class``) to its
export function ``fn(md, output_dir, kind, quantize) -> list[Path]`` (``kind``: ``"onnx"`` or
``"torchscript"``; ``quantize``: write ``model_quant.onnx`` too). To add a model, write its
function in ``funasr_lite/export/<family>.py`` and add one line here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from funasr_lite.errors import InputError, ModelError
from funasr_lite.export.campplus import export_campplus  # these three import no onnx
from funasr_lite.export.punc import export_ct_transformer
from funasr_lite.export.vad import export_fsmn_vad
from funasr_lite.modelio.model_dir import ModelDir, open_model_dir

ExportFn = Callable[[ModelDir, Path, str, bool], list[Path]]


def _paraformer(md: ModelDir, output_dir: Path, kind: str, quantize: bool) -> list[Path]:
    from funasr_lite.export.paraformer import export_paraformer

    return export_paraformer(md, output_dir, kind, quantize)


# model class -> export function (imported lazily: the package imports without onnx)
EXPORTERS: dict[str, ExportFn] = {
    "Paraformer": _paraformer,
    "BiCifParaformer": _paraformer,
    "FsmnVAD": export_fsmn_vad,
    "CTTransformer": export_ct_transformer,
    "CAMPPlus": export_campplus,
}


def export(
    model_dir: str | Path, output_dir: str | Path, kind: str = "onnx", quantize: str | None = None
) -> list[Path]:
    """Export ``model_dir`` into ``output_dir``; returns the files written."""
    if kind not in ("onnx", "torchscript"):
        raise InputError("--type", f"{kind!r}: use onnx or torchscript")
    if quantize not in (None, "int8"):
        raise InputError("--quantize", f"{quantize!r}: only int8 is supported")
    if quantize and kind != "onnx":
        raise InputError("--quantize int8", "applies to --type onnx only (as in FunASR)")
    md = open_model_dir(model_dir)
    fn = EXPORTERS.get(md.model_class)
    if fn is None:
        raise ModelError(md.path, f"{md.model_class} has no exporter (exportable: {', '.join(sorted(EXPORTERS))})")
    return fn(md, Path(output_dir), kind, quantize == "int8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model folder (official layout or a recipe's model_dir)")
    parser.add_argument(
        "--type", default="onnx", choices=["onnx", "torchscript"], help="model.onnx (onnxruntime) or model.torchscript"
    )
    parser.add_argument("--quantize", default=None, choices=["int8"], help="also write model_quant.onnx")
    parser.add_argument(
        "--output_dir",
        required=True,
        help="writes the graph with config.yaml, am.mvn and tokens.json (FunASR's layout)",
    )
    args = parser.parse_args(argv)
    try:
        files = export(args.model, args.output_dir, args.type, args.quantize)
    except (InputError, ModelError) as e:
        print(f"export: {e}", file=sys.stderr)
        return 1
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
