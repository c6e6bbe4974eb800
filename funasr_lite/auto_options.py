"""``AutoModel`` options: which FunASR options are honoured, which are harmless, which are refused.

FunASR merges its constructor keywords into every ``generate`` call; ``CallDefaults`` holds the
ones funasr_lite honours per call (constructor value, overridden by the call). Everything is
checked in the constructor: an option that could change a result is either honoured or refused
with a one-line error that says what to do instead.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import torch

from funasr_lite.devices import resolve_device
from funasr_lite.vad.options import VadOptions

# Hub, download, progress-bar and batching settings: they never change a result here (the ASR model
# masks padding, so FunASR's `batch_size` cannot change one either).
SILENT = frozenset(
    {
        "disable_update",
        "disable_pbar",
        "disable_log",
        "hub",
        "model_revision",
        "vad_model_revision",
        "punc_model_revision",
        "spk_model_revision",
        "check_latest",
        "batch_size",
        "ngpu",
        "progress_callback",
        "cache",
        "is_final",
    }
)
# Options refused when set to anything but FunASR's default, with what to do instead.
_REFUSED = {
    "en_post_proc": (False, "English sentence splitting (timestamp_sentence_en) is not implemented; leave it off"),
    "return_spk_center": (
        False,
        "per-speaker embedding centres (spk_embedding_center) are not implemented; use "
        "funasr_lite.diar.embed.extract_embeddings on the speaker turns",
    ),
    "trust_remote_code": (False, "funasr_lite runs no remote code; use a supported model folder"),
    "fp16": (False, "use dtype='fp16'"),
    "bf16": (False, "use dtype='bf16'"),
}
SPEAKER_CALL = ("num_speakers", "min_speakers", "max_speakers", "preset_spk_num")


@dataclass
class CallDefaults:
    """Per-call options that the constructor sets and ``generate`` may override (FunASR's merge)."""

    sentence_timestamp: bool = False
    return_raw_text: bool = False
    batch_size_s: float = 300
    batch_size_threshold_s: float = 60
    merge_vad: bool = False
    merge_length_s: float = 15
    return_spk_res: bool = True
    output_dir: str | None = None
    hotword: str | None = None  # SeACo-Paraformer: words or a .txt file (funasr_lite/hotwords.py)
    output_timestamp: bool | None = None  # plain Paraformer's CIF-peak timestamps (BiCif: always)
    pred_timestamp: bool | None = None  # FunASR's other name for it; wins when given

    def timestamps(self, has_spk: bool) -> bool:
        """FunASR's rule: ``pred_timestamp`` if given, else ``output_timestamp``, which ``AutoModel``
        sets to True when a speaker model is loaded and the option was not given."""
        if self.pred_timestamp is not None:
            return bool(self.pred_timestamp)
        if self.output_timestamp is not None:
            return bool(self.output_timestamp)
        return has_spk

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def updated(self, overrides: dict[str, Any]) -> CallDefaults:
        """A copy with the ``overrides`` that name fields (others are left in ``overrides``)."""
        mine = {k: overrides.pop(k) for k in list(overrides) if k in self.names()}
        out = dataclasses.replace(self, **mine)
        out.check()
        return out

    def check(self) -> None:
        """Raise a one-line ``ValueError`` for a value of the wrong kind."""
        for name in ("batch_size_s", "batch_size_threshold_s", "merge_length_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.output_dir is not None and not isinstance(self.output_dir, str):
            self.output_dir = str(self.output_dir)


def check_refused(kwargs: dict[str, Any], where: str) -> None:
    """Pop options that are harmless at FunASR's default; raise for any other value."""
    if "vda_model" in kwargs:
        raise TypeError(
            "`vda_model` is not a valid AutoModel argument; use `vad_model` to enable voice activity detection"
        )
    for name, (default, instead) in _REFUSED.items():
        if name in kwargs:
            value = kwargs.pop(name)
            if bool(value) != bool(default):
                raise ValueError(f"{where}: {name}={value!r} is not supported: {instead}")


def reject_unknown(kwargs: dict[str, Any], where: str, valid: tuple[str, ...] = ()) -> None:
    """Raise ``TypeError`` naming every option left in ``kwargs`` that is not silent."""
    unknown = sorted(set(kwargs) - SILENT)
    if unknown:
        hint = f"; per-call options here: {', '.join(sorted(valid))}" if valid else ""
        raise TypeError(f"{where}: unknown option(s) {', '.join(unknown)}: funasr_lite does not support them{hint}")


def set_log_level(level: Any) -> None:
    """FunASR's ``log_level`` (a level name such as ``"INFO"``), applied to funasr_lite's loggers."""
    value = getattr(logging, str(level).upper(), None) if isinstance(level, str) else None
    if not isinstance(value, int):
        raise ValueError(f"log_level={level!r} is not a logging level: use DEBUG, INFO, WARNING or ERROR")
    logging.getLogger("funasr_lite").setLevel(value)


def resolve_ncpu(ncpu: Any) -> int:
    """FunASR's ``ncpu`` rule: an integer >= 1 (default 4), which becomes torch's CPU thread count."""
    if isinstance(ncpu, bool) or not isinstance(ncpu, int) or ncpu < 1:
        raise ValueError(f"ncpu={ncpu!r} must be a whole number of CPU threads >= 1")
    return ncpu


def apply_ncpu(ncpu: int) -> None:
    """Set torch's intra-op thread count, as FunASR does at load time and before every call."""
    if torch.get_num_threads() != ncpu:
        torch.set_num_threads(ncpu)


def sub_kwargs(name: str, value: Any, allowed: tuple[str, ...], device: str) -> tuple[str, dict[str, Any]]:
    """Split ``vad_kwargs``/``punc_kwargs``/``spk_kwargs`` into a resolved device and the rest.

    ``device`` (the ASR model's, already resolved) is inherited unless the dict names one;
    ``ncpu`` is accepted (FunASR applies the main ``ncpu`` before every call); any other key
    must be in ``allowed``.
    """
    if value is None:
        return device, {}
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
    rest = {k: v for k, v in value.items() if k not in ("device", "ncpu") and k not in SILENT}
    bad = sorted(set(rest) - set(allowed))
    if bad:
        valid = f"; valid keys: device, {', '.join(allowed)}" if allowed else "; the only valid key is device"
        raise TypeError(f"{name}: unknown option(s) {', '.join(bad)}{valid}")
    sub_device = resolve_device(value["device"], f"{name}['device']") if value.get("device") else device
    return sub_device, rest


def check_vad_options(options: dict[str, Any], where: str) -> None:
    """Raise a one-line error now for VAD options the VAD would reject at its first call."""
    try:
        VadOptions().replace(**options).validate()
    except (TypeError, ValueError) as e:
        raise type(e)(f"{where}: {e}") from None


def config_overrides(kwargs: dict[str, Any], config: dict[str, Any], where: str) -> float | None:
    """Pop FunASR's config overrides (``frontend_conf={...}``, ``model_conf``, ...) from ``kwargs``.

    ``frontend_conf['dither']`` is honoured (returned); any other key must equal the folder's own
    config value, since funasr_lite builds the model from the folder's config.
    """
    dither = None
    for name in [k for k in kwargs if k.endswith("_conf")]:
        value = kwargs.pop(name)
        if not isinstance(value, dict):
            raise TypeError(f"{where}: {name} must be a dict, got {type(value).__name__}")
        own = config.get(name) or {}
        for key, v in value.items():
            if name == "frontend_conf" and key == "dither":
                dither = float(v)
            elif own.get(key) != v:
                raise ValueError(
                    f"{where}: {name}[{key!r}]={v!r} differs from the model folder's {own.get(key)!r}: "
                    f"funasr_lite uses the folder's config; edit its config.yaml instead"
                )
    return dither
