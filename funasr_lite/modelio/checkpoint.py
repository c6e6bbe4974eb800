"""Safe checkpoint loading and strict state-dict matching.

Checkpoints are read with ``torch.load(weights_only=True)``: a pickle that tries to build
arbitrary objects (and so could run code) is refused. Loading into a module is strict:
every missing, unexpected and wrong-shape key is reported in one error, where FunASR
only warns and keeps random weights (``funasr/train_utils/load_pretrained_model.py``).
"""

from __future__ import annotations

import contextlib
import pickle
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch

from funasr_lite.errors import ModelError

# FunASR unwraps training checkpoints in this order (load_pretrained_model.py).
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
# Prefixes that wrappers add: DDP's "module." and 0.x PunctuationModel's "punc_model.".
_PREFIXES = ("module.", "punc_model.")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Load a FunASR/3D-Speaker checkpoint as a flat ``{name: tensor}`` dict.

    Accepts a bare state dict or one wrapped in ``state_dict``/``model_state_dict``/``model``,
    and strips a ``module.`` (DDP) or ``punc_model.`` (0.x punctuation) prefix.
    Raises ``ModelError`` for a missing, truncated, unsafe or non-state-dict file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(path, "checkpoint file not found")
    if path.stat().st_size == 0:
        raise ModelError(path, "checkpoint file is empty")
    obj = _torch_load(path, map_location)
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not obj:
        raise ModelError(path, f"checkpoint is not a state dict (got {type(obj).__name__})")
    state: dict[str, torch.Tensor] = {}
    for name, value in obj.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise ModelError(path, f"checkpoint entry {name!r} is not a tensor (got {type(value).__name__})")
        state[name] = value
    for prefix in _PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def _torch_load(path: Path, map_location: str | torch.device) -> object:
    try:
        with warnings.catch_warnings():
            # Old checkpoints use pickle protocol 4; torch warns but loads them fine.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return _load_mmap_or_plain(path, map_location)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unpickling failed"
        if "weights only" in str(e).lower() or "weights_only" in str(e):
            raise ModelError(
                path,
                "refusing to load: the checkpoint contains Python objects other than tensors "
                "(it could run code); re-save it as a plain state dict",
            ) from None
        raise ModelError(path, f"checkpoint is corrupt or truncated ({first})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        first = first.split(". This is an internal", 1)[0]  # torch's paragraph of advice after the reason
        raise ModelError(path, f"checkpoint is corrupt or truncated ({first})") from None


def _load_mmap_or_plain(path: Path, map_location: str | torch.device) -> object:
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=True)
    except RuntimeError as e:
        # Legacy (pre-zip) checkpoints cannot be memory-mapped; retry without mmap.
        if "mmap" not in str(e):
            raise
        return torch.load(path, map_location=map_location, weights_only=True)


def state_dict_mismatches(
    expected: Mapping[str, torch.Size | tuple[int, ...]], got: Mapping[str, torch.Tensor]
) -> tuple[list[str], list[str], list[str]]:
    """Return (missing, unexpected, wrong-shape descriptions) between a module's shapes and a checkpoint."""
    missing = sorted(k for k in expected if k not in got)
    unexpected = sorted(k for k in got if k not in expected)
    wrong = sorted(
        f"{k}: checkpoint {tuple(got[k].shape)} vs model {tuple(expected[k])}"
        for k in expected
        if k in got and tuple(got[k].shape) != tuple(expected[k])
    )
    return missing, unexpected, wrong


def load_state_dict_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """Copy ``state`` into ``module``; on any mismatch raise one ``ModelError`` listing all of it."""
    expected = {k: v.shape for k, v in module.state_dict().items()}
    missing, unexpected, wrong = state_dict_mismatches(expected, state)
    if missing or unexpected or wrong:
        raise ModelError(source, format_mismatch(missing, unexpected, wrong, type(module).__name__))
    module.load_state_dict(dict(state), strict=True)


def format_mismatch(missing: list[str], unexpected: list[str], wrong: list[str], what: str) -> str:
    """One message listing every missing, unexpected and wrong-shape key."""
    parts = [f"checkpoint does not match {what}:"]
    if missing:
        parts.append(f"{len(missing)} missing key(s): " + ", ".join(missing))
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s): " + ", ".join(unexpected))
    if wrong:
        parts.append(f"{len(wrong)} wrong shape(s): " + "; ".join(wrong))
    return " ".join(parts)


_RANDOM_INITS = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "xavier_uniform_",
    "xavier_normal_",
    "orthogonal_",
)


@contextlib.contextmanager
def no_random_init() -> Iterator[None]:
    """Build modules without drawing their random initial weights (``torch.nn.init``'s random
    fills do nothing inside); only for a model whose every parameter and persistent buffer a
    strict ``load_state_dict_strict`` then overwrites. Paraformer-large then loads in 0.40 s
    instead of 1.47 s on the 2-core CPU (``bench/load_time.py``). Not thread-safe (patches
    ``torch.nn.init``)."""
    saved = {name: getattr(torch.nn.init, name) for name in _RANDOM_INITS}
    try:
        for name in _RANDOM_INITS:
            setattr(torch.nn.init, name, _keep)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)


def _keep(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
    return tensor
