"""Install funasr_lite: ``pip install -e .`` (add ``[test]`` for the test tools)."""

from setuptools import find_packages, setup

setup(
    name="funasr_lite",
    version="0.1.0",
    description="A readable, offline, FunASR-compatible speech recognition toolkit",
    packages=find_packages(include=["funasr_lite", "funasr_lite.*"]),
    # Kaldi's job runners, used by --nj --cmd (funasr_lite/jobs; utils/run.pl and utils/slurm.pl link to them)
    package_data={"funasr_lite.jobs": ["run.pl", "slurm.pl"]},
    python_requires=">=3.10",
    install_requires=[
        # The tested range: 2.13.0 (the CPU wheel of the dev machines and CI, which a fresh
        # `pip install -e .` picks up) and 2.11 (CUDA, the GPU machines). The cap keeps a plain
        # install from pulling a newer multi-GB CUDA build; with another torch already
        # installed, use `pip install --no-deps -e .`.
        "torch>=2.4,<2.14",
        "numpy>=1.24",
        "soundfile>=0.12",
        "soxr>=0.3",
        "PyYAML>=6.0",
        "tqdm>=4.60",
        "kaldiio>=2.17",
        # jieba: word segmentation of the cn-en CT-Transformer punctuation model, and the text
        # source of the synthetic corpus (egs/synth). Its version changes segmentations.
        "jieba>=0.42",
        # Diarization: scikit-learn's k_means/HDBSCAN are pinned because k_means' n_init default
        # and RNG use change between versions (labels must match FunASR's); umap-learn is used
        # for long files (>= 2048 chunks) without a speaker count, as in FunASR.
        "scipy>=1.11",
        "scikit-learn==1.9.1",
        "umap-learn==0.5.12",
        # Training configs: YAML plus command-line overrides (funasr_lite.train.asr.config).
        "ConfigArgParse>=1.7",
    ],
    extras_require={
        # Tensorboard curves of training (optional: without it the trainer writes metrics.jsonl only).
        "recipes": ["tensorboard>=2.14"],
        # Deployment exports (python -m funasr_lite.bin.export --type onnx [--quantize int8]);
        # onnxruntime also runs/quantizes the graphs. The package imports without them.
        "onnx": ["onnx>=1.16", "onnxruntime>=1.18"],
        "test": [
            # the style gate of .ci/run (settings in pyproject.toml); pinned, as rules change between releases
            "ruff==0.17.6",
            "pytest>=7",
            "kaldi-native-fbank>=1.19",
            "hypothesis>=6",
            "jieba==0.42.1",
            # independent DER reference, used only by tests/test_der.py
            "pyannote.metrics>=3.2",
            # independent RTTM reader (load_rttm), used only by tests/test_rttm.py; pulls
            # pandas, PyYAML and sortedcontainers, no torch
            "pyannote.core>=5",
            "pyannote.database>=5",
            # tests/test_export_paraformer.py: export and run the ONNX graphs (the onnx extra)
            "onnx>=1.16",
            "onnxruntime>=1.18",
        ],
    },
    entry_points={
        "console_scripts": [
            # FunASR's `funasr audio.wav -f srt -o dir`: files, folders or a wav.scp through bin/inference
            "funasr-lite=funasr_lite.bin.cli:main",
            "funasr-lite-cer=funasr_lite.bin.compute_cer:main",
        ]
    },
)
