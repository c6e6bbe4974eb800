"""Deployment exports (ONNX, TorchScript) of model folders; ``python -m funasr_lite.bin.export``.

``common.py`` holds the plumbing (legacy ONNX exporter, int8 quantization, TorchScript tracing,
the side files of the output folder); one module per model family holds its export wrapper
(``paraformer.py``). onnx/onnxruntime are optional (``pip install funasr_lite[onnx]``): nothing
here imports them until an ONNX export or quantization runs.
"""
