"""Paraformer / BiCif-Paraformer on onnxruntime, behind the torch model's ``recognize`` interface.

:class:`OnnxParaformer` takes what ``SpeechRecognizer`` gives the torch model (LFR + CMVN features
from funasr_lite's ``WavFrontend``, padded, with their lengths) and returns the same
:class:`RecogResult` list; in between runs the graph of ``export/paraformer.py`` (inputs
``speech``, ``speech_lengths``; outputs ``logits``, ``token_num`` [, ``us_alphas``, ``us_cif_peak``]).
The greedy search and BiCif's timestamps are the torch path's own functions
(``models/paraformer/model.py``: ``greedy_results``, ``add_bicif_timestamps``).

:func:`load_onnx_paraformer` accepts a deployment folder (``model.onnx``, ``config.yaml``,
``am.mvn``, ``tokens.json``: what ``bin/export`` writes) or a torch model folder, which is exported
once into a cache folder (``$FUNASR_LITE_CACHE/onnx``, default ``~/.cache/funasr_lite/onnx``),
keyed by the folder's path and its files' sizes and modification times.

Not available on this backend (one-line refusals): plain Paraformer's CIF-peak timestamps (the
graph has no alphas output; BiCif's timestamps are there), SeACo-Paraformer (no exporter).
onnxruntime is imported only when a session is made.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from funasr_lite.errors import ModelError, one_line
from funasr_lite.frontend.wav_frontend import WavFrontend
from funasr_lite.modelio.config import to_1x
from funasr_lite.modelio.model_dir import ModelDir, open_model_dir
from funasr_lite.modelio.tokens import read_token_list
from funasr_lite.models.paraformer.model import BLANK, EOS, SOS, RecogResult, add_bicif_timestamps, greedy_results
from funasr_lite.yamlio import read_yaml

log = logging.getLogger(__name__)

ONNX_CLASSES = ("Paraformer", "BiCifParaformer")
CACHE_VERSION = "1"  # bump when the exported graph changes


def is_deploy_dir(path: str | Path) -> bool:
    """Whether ``path`` is an export folder (holds ``model.onnx`` and ``config.yaml``)."""
    p = Path(path).expanduser()
    return (p / "model.onnx").is_file() and (p / "config.yaml").is_file()


def open_deploy_dir(path: str | Path) -> ModelDir:
    """An export folder as a :class:`ModelDir` (``checkpoint`` is its ``model.onnx``; the class comes
    from ``config.yaml``'s ``model:``)."""
    root = Path(path).expanduser().resolve()
    config = to_1x(read_yaml(root / "config.yaml"))
    name = str(config.get("model") or "")
    cls = {"paraformer": "Paraformer", "bicifparaformer": "BiCifParaformer"}.get(name.lower().replace("_", ""))
    if cls is None:
        raise ModelError(
            root,
            f"model.onnx of a {name or 'unnamed'} model: backend='onnxruntime' runs Paraformer "
            "and BiCifParaformer exports only for now",
        )
    tokens = root / "tokens.json"
    cmvn = root / "am.mvn"
    for f in (tokens, cmvn):
        if not f.is_file():
            raise ModelError(root, f"export folder has no {f.name} (bin/export writes it)")
    return ModelDir(root, cls, config, "1.x", root / "model.onnx", cmvn, read_token_list(tokens))


def cache_root() -> Path:
    """Where torch folders are exported for the onnxruntime backend."""
    base = os.environ.get("FUNASR_LITE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "funasr_lite"
    )
    return Path(base) / "onnx"


def _cache_key(md: ModelDir, quantize: bool) -> str:
    h = hashlib.sha256(f"{CACHE_VERSION}\n{md.path}\n".encode())
    for f in sorted(md.path.iterdir()):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name} {st.st_size} {st.st_mtime_ns}\n".encode())
    return f"{md.path.name}-{h.hexdigest()[:16]}" + ("-int8" if quantize else "")


def exported_dir(model_dir: str | Path, quantize: bool = False) -> Path:
    """The export folder of a torch model folder, exported now unless the cache has it."""
    md = open_model_dir(model_dir)
    if md.model_class not in ONNX_CLASSES:
        raise ModelError(
            md.path, f"backend='onnxruntime' runs {' and '.join(ONNX_CLASSES)} for now, not {md.model_class}"
        )
    out = cache_root() / _cache_key(md, quantize)
    if is_deploy_dir(out) and (not quantize or (out / "model_quant.onnx").is_file()):
        return out
    from funasr_lite.export.paraformer import export_paraformer  # noqa: PLC0415  (needs onnx)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out.parent))
    try:
        log.info("exporting %s to ONNX in %s", md.path, out)
        with warnings.catch_warnings():  # the tracer's warnings are about constructs it handles
            warnings.simplefilter("ignore")
            export_paraformer(md, tmp, "onnx", quantize)
        try:
            tmp.rename(out)  # atomic; another process may have finished first
        except OSError:
            if not is_deploy_dir(out):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


class OnnxParaformer:
    """The ``recognize`` of ``models/paraformer/model.py``'s ``Paraformer`` on an onnxruntime session."""

    def __init__(self, graph: Path, model_class: str, config: dict[str, Any]) -> None:
        import onnxruntime as ort  # noqa: PLC0415  (optional extra)

        self.graph = graph
        self.bicif = model_class == "BiCifParaformer"
        mc = config.get("model_conf") or {}
        self.sos, self.eos, self.blank_id = (
            int(mc.get(k, d)) for k, d in (("sos", SOS), ("eos", EOS), ("blank_id", BLANK))
        )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4  # errors come back as exceptions (a batch without tokens is one)
        self.session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.session.get_outputs()]

    def recognize(
        self, feats: Tensor, feat_lens: Tensor, vad_offset_ms: float = 0.0, timestamps: bool = False
    ) -> list[RecogResult]:
        """As the torch model's ``recognize``: one :class:`RecogResult` per item of the padded batch."""
        if timestamps and not self.bicif:
            raise ValueError(
                "timestamps of a plain Paraformer (output_timestamp, or a speaker model) are not available "
                "with backend='onnxruntime' (its graph has no CIF alphas); use backend='torch' or a BiCif model"
            )
        lens = feat_lens.cpu().to(torch.int32).numpy()
        speech = np.ascontiguousarray(feats.detach().cpu().float().numpy())
        try:
            out = dict(zip(self.output_names, self.session.run(None, {"speech": speech, "speech_lengths": lens})))
        except Exception as e:  # noqa: BLE001  (onnxruntime's error classes are not public API)
            # the graph raises when no item of the batch fires a token (FunASR's export does too)
            if not self._no_token(e):
                raise ModelError(self.graph, f"onnxruntime failed: {one_line(e)}") from None
            results = [RecogResult([], 0.0) for _ in lens]
            if self.bicif:
                add_bicif_timestamps(results, None, None, [], 1)
            return results
        token_num = out["token_num"].astype(np.int64).tolist()
        logp = torch.from_numpy(out["logits"]) if max(token_num, default=0) >= 1 else None
        results = greedy_results(logp, token_num, (self.eos, self.sos, self.blank_id))
        if self.bicif:
            us_alphas, us_peaks = torch.from_numpy(out["us_alphas"]), torch.from_numpy(out["us_cif_peak"])
            up = us_alphas.shape[1] // speech.shape[1]
            add_bicif_timestamps(results, us_alphas, us_peaks, lens.tolist(), up, vad_offset_ms)
        return results

    @staticmethod
    def _no_token(err: Exception) -> bool:
        """Whether ``err`` is the graph's failure on a batch without tokens: the decoder's first
        FSMN convolution refuses an empty token axis (``INVALID_ARGUMENT ... /decoder/...Conv``)."""
        text = str(err)
        return "INVALID_ARGUMENT" in text and "/decoder/" in text


def load_onnx_paraformer(
    model_dir: str | Path, quantize: str | None = None, dither: float | None = None
) -> tuple[OnnxParaformer, WavFrontend, list[str]]:
    """``(model, frontend, token_list)`` as ``load_paraformer`` gives them, the model on onnxruntime.

    ``model_dir``: an export folder (used as it is) or a torch folder (exported into the cache).
    ``quantize="int8"``: ``model_quant.onnx``.
    """
    try:
        import onnxruntime  # noqa: F401, PLC0415  (optional extra)
    except ImportError as e:
        raise ModelError(
            "onnxruntime", f"backend='onnxruntime' needs it ({e}); install it with: pip install 'funasr_lite[onnx]'"
        ) from None
    deploy = Path(model_dir) if is_deploy_dir(model_dir) else exported_dir(model_dir, quantize == "int8")
    md = open_deploy_dir(deploy)
    graph = deploy / ("model_quant.onnx" if quantize == "int8" else "model.onnx")
    if not graph.is_file():
        raise ModelError(deploy, f"has no {graph.name}: export it with --quantize int8")
    frontend_conf = dict(md.config.get("frontend_conf") or {})
    frontend_conf.pop("cmvn_file", None)
    if dither is not None:
        frontend_conf["dither"] = float(dither)
    frontend = WavFrontend.from_config(frontend_conf, md.cmvn_file)
    assert md.token_list is not None
    return OnnxParaformer(graph, md.model_class, md.config), frontend, list(md.token_list)
