"""Inference backends: ``torch`` (the eager models) or ``onnxruntime`` (our exported graphs).

``AutoModel(..., backend=...)`` and ``bin/inference --backend`` choose one; :func:`check_backend`
refuses, in one line, the option combinations that make no sense with it. With ``onnxruntime``
the ASR model runs as ``model.onnx`` (``model_quant.onnx`` with ``quantize="int8"``) between
funasr_lite's own frontend and post-processing (``backends/onnx_paraformer.py``); VAD,
punctuation and speaker models still run on torch.
"""

from __future__ import annotations

BACKENDS = ("torch", "onnxruntime")


def check_backend(backend: str, device: str, dtype: str = "fp32", quantize: str | None = None) -> None:
    """Raise a one-line ``ValueError`` for an unknown backend or an option it cannot honour."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return
    if str(device).split(":")[0] != "cpu":
        raise ValueError(f"backend='onnxruntime' runs on the CPU only for now (device={device!r}): use device='cpu'")
    if dtype not in ("fp32", "float32"):
        raise ValueError(
            f"dtype={dtype!r} applies to the torch backend; backend='onnxruntime' runs the fp32 graph "
            "(or model_quant.onnx with quantize='int8')"
        )
    if quantize not in (None, "int8"):
        raise ValueError(f"unknown quantize {quantize!r} (choose from int8)")
