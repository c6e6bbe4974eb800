"""ONNX / TorchScript / int8 plumbing and the output folder, shared by every model's export.

FunASR 1.4.16's ``funasr/utils/export_utils.py`` is the reference: ``torch.onnx.export`` with
constant folding at opset 14, ``model_quant.onnx`` by onnxruntime's dynamic quantization
(MatMul only, per channel, QUInt8 weights, no reduced range, nodes whose name holds ``output``,
``bias_encoder`` or ``bias_decoder`` left in float), TorchScript by ``torch.jit.trace``. The one
change: torch >= 2.9 defaults ``torch.onnx.export`` to the dynamo exporter, which cannot export
FunASR's scripted CIF loops (FunASR's own ``AutoModel.export`` fails on torch 2.13 for that
reason), so the legacy TorchScript-based exporter is asked for (``dynamo=False``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from funasr_lite.errors import ModelError
from funasr_lite.fileio import write_text_atomic
from funasr_lite.modelio.model_dir import ModelDir

OPSET = 14  # FunASR's default opset_version


def require_onnx() -> None:
    """Refuse early, in one line, when the optional ONNX packages are missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise ModelError(
            "onnx", f"ONNX export needs onnx and onnxruntime ({e}); install them with: pip install 'funasr_lite[onnx]'"
        ) from None


def export_onnx(
    module: nn.Module,
    dummy_inputs: tuple[torch.Tensor, ...],
    path: Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
    opset: int = OPSET,
) -> Path:
    """``module`` traced on ``dummy_inputs`` into ``path`` by the legacy exporter (FunASR's settings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            dummy_inputs,
            str(path),
            dynamo=False,
            verbose=False,
            do_constant_folding=True,
            opset_version=opset,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
        )
    return path


def quantize_int8(model_path: Path) -> Path:
    """``model_quant.onnx`` next to ``model.onnx``: FunASR's dynamic int8 quantization of the MatMuls."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quant_path = model_path.with_name(model_path.stem + "_quant.onnx")
    names = [n.name for n in onnx.load(str(model_path)).graph.node]
    exclude = [n for n in names if "output" in n or "bias_encoder" in n or "bias_decoder" in n]
    quantize_dynamic(
        model_input=str(model_path),
        model_output=str(quant_path),
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        reduce_range=False,
        weight_type=QuantType.QUInt8,
        nodes_to_exclude=exclude,
    )
    return quant_path


def export_torchscript(module: nn.Module, dummy_inputs: tuple[torch.Tensor, ...], path: Path) -> Path:
    """``torch.jit.trace`` of ``module`` saved to ``path`` (scripted helpers keep their loops)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    with torch.no_grad():
        traced = torch.jit.trace(module, dummy_inputs, check_trace=False)
    traced.save(str(path))
    return path


def export_graph(
    module: nn.Module,
    output_dir: Path,
    kind: str,
    quantize: bool,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
) -> list[Path]:
    """``kind`` ``onnx``: ``model.onnx`` (+ ``model_quant.onnx`` with ``quantize``); ``torchscript``:
    ``model.torchscript``; both traced on ``module.dummy_inputs()``. Returns the files written."""
    dummy = module.dummy_inputs()
    if kind == "onnx":
        require_onnx()
        path = export_onnx(module, dummy, output_dir / "model.onnx", input_names, output_names, dynamic_axes)
        return [path, quantize_int8(path)] if quantize else [path]
    if kind == "torchscript":
        return [export_torchscript(module, dummy, output_dir / "model.torchscript")]
    raise ModelError(kind, "unknown export type (onnx or torchscript)")


# funasr_lite's model class -> FunASR's registered class, where they differ (FunASR's VAD class is streaming)
FUNASR_CLASS_NAMES = {"FsmnVAD": "FsmnVADStreaming"}


def runtime_config(md: ModelDir) -> dict[str, Any]:
    """The folder's config (FunASR 1.x names) as runtimes read it next to the graph.

    ``frontend_conf.cmvn_file`` is dropped: the CMVN file is ``am.mvn`` beside it, and
    funasr-onnx 0.4.x passes ``cmvn_file=`` and ``**frontend_conf`` to its frontend (a duplicate
    keyword error otherwise). ``model_conf`` is always present (funasr-onnx reads
    ``model_conf.predictor_bias``). ``model:`` stays the folder's own (``FsmnVADStreaming`` for the
    VAD: FunASR's export leaves config.yaml as it is).
    """
    config = dict(md.config)
    if not isinstance(config.get("model"), str) or not config["model"]:  # keep the folder's own class name
        config["model"] = FUNASR_CLASS_NAMES.get(md.model_class, md.model_class)
    if "frontend_conf" in config:
        frontend_conf = dict(config.get("frontend_conf") or {})
        frontend_conf.pop("cmvn_file", None)
        config["frontend_conf"] = frontend_conf
    config["model_conf"] = dict(config.get("model_conf") or {})
    tok = dict(config.get("tokenizer_conf") or {})
    for key in ("token_list", "seg_dict_file", "bpemodel"):
        tok.pop(key, None)
    if "tokenizer_conf" in config:
        config["tokenizer_conf"] = tok
    return config


def write_side_files(md: ModelDir, output_dir: Path) -> list[Path]:
    """``config.yaml`` (:func:`runtime_config`), ``am.mvn`` and ``tokens.json`` (when the folder has them)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    written = [output_dir / "config.yaml"]
    text = yaml.safe_dump(runtime_config(md), allow_unicode=True, sort_keys=False, default_flow_style=False)
    write_text_atomic(written[0], text)
    if md.cmvn_file is not None:
        dst = output_dir / "am.mvn"
        if md.cmvn_file.resolve() != dst.resolve():
            shutil.copyfile(md.cmvn_file, dst)
        written.append(dst)
    if md.token_list:
        written.append(output_dir / "tokens.json")
        write_text_atomic(written[-1], json.dumps(md.token_list, ensure_ascii=False, indent=2) + "\n")
    return written
