"""``AutoModel``: FunASR's Python entry point, offline and local-folder only.

    from funasr_lite import AutoModel
    m = AutoModel(model="./models/paraformer-large", device="cpu")
    m.generate(input="a.wav")          # [{"key": "a", "text": "...", "timestamp": [...]}]

``input`` may be anything the audio loader takes (path, URL, bytes, numpy/torch array), a list
of those, a Kaldi ``wav.scp`` or a FunASR list (``.txt``/``.json``/``.jsonl``/``.text``, see
``auto_inputs.py``). Results are FunASR-shaped dicts in input order; a bad item raises
``InputError`` here (batch jobs use ``bin/asr_inference``, which skips and reports). A VAD,
punctuation or CAM++ folder as ``model`` gives FunASR's results of that model (``auto_single.py``).
Which FunASR options are honoured and which are refused: ``auto_options.py``.
"""

from __future__ import annotations

from typing import Any

from funasr_lite import auto_options as opts
from funasr_lite.asr import SpeechRecognizer
from funasr_lite.auto_asr import run_asr
from funasr_lite.auto_single import PuncOnly, SpeakerOnly, VadOnly
from funasr_lite.backends import check_backend
from funasr_lite.backends.onnx_paraformer import is_deploy_dir, open_deploy_dir
from funasr_lite.devices import resolve_device
from funasr_lite.frontend.audio import DEFAULT_RESAMPLER, RESAMPLERS
from funasr_lite.modelio.model_dir import open_model_dir
from funasr_lite.models.ct_transformer import load_punc_model
from funasr_lite.models.fsmn_vad import load_fsmn_vad
from funasr_lite.pipeline import LongAudioPipeline
from funasr_lite.seeding import set_seed
from funasr_lite.vad.options import VadOptions


def build_pipeline(
    model: str,
    vad_model: str | None = None,
    punc_model: str | None = None,
    device: str = "cpu",
    batch_size_s: float = 300,
    batch_size_threshold_s: float = 60,
    dither: float = 0.0,
    vad_options: dict[str, Any] | None = None,
    spk_model: str | None = None,
    spk_mode: str = "punc_segment",
    split_at_speaker_change: bool = True,
    dtype: str = "fp32",
    quantize: str | None = None,
    vad_device: str | None = None,
    resampler: str = DEFAULT_RESAMPLER,
    punc_device: str | None = None,
    spk_device: str | None = None,
    backend: str = "torch",
) -> LongAudioPipeline:
    """Load the ASR, VAD, punctuation and speaker folders into a ``LongAudioPipeline``.

    ``dtype``/``quantize`` set the ASR model's precision (``models.precision``); ``vad_device``
    puts the VAD elsewhere (``cpu`` when DataLoader workers run it); ``resampler`` (``funasr`` or
    ``soxr``) is how audio at other rates is resampled (``frontend/audio.py``). ``backend``:
    ``torch`` or ``onnxruntime`` for the ASR model (``funasr_lite/backends``). A device this
    machine lacks falls back to the CPU with a warning (``devices.resolve_device``).
    """
    device = resolve_device(device)
    vad_device = resolve_device(vad_device, "vad device") if vad_device else device
    punc_device = resolve_device(punc_device, "punc device") if punc_device else device
    spk_device = resolve_device(spk_device, "spk device") if spk_device else device
    if resampler not in RESAMPLERS:
        raise ValueError(f"unknown resampler {resampler!r}: use one of {', '.join(RESAMPLERS)}")
    check_backend(backend, device, dtype, quantize)
    asr = SpeechRecognizer(model, device=device, dither=dither, dtype=dtype, quantize=quantize, backend=backend)
    if backend == "onnxruntime" and spk_model and not asr.has_timestamps:
        raise ValueError(
            "spk_model needs token timestamps, which a plain Paraformer has only with backend='torch' "
            "(or use a BiCif-Paraformer)"
        )
    vad = load_fsmn_vad(vad_model, device=vad_device) if vad_model else None
    punc = load_punc_model(punc_model, device=punc_device) if punc_model else None
    spk = None
    if spk_model:
        if vad is None:
            raise ValueError("spk_model needs a vad_model: speakers are clustered over VAD segments")
        from funasr_lite.models.campplus import load_campplus  # noqa: PLC0415

        spk = load_campplus(spk_model, device=spk_device)
    return LongAudioPipeline(
        asr,
        vad,
        punc,
        batch_size_s,
        batch_size_threshold_s,
        vad_options,
        spk,
        spk_mode,
        split_at_speaker_change,
        resampler,
    )


class AutoModel:
    """FunASR's ``AutoModel`` over local folders: an ASR model (optional VAD, punctuation and
    speaker folders), or a VAD, punctuation or CAM++ folder on its own.

    Without ``vad_model`` each input is recognised as one utterance (batched across inputs);
    with it, each input is a long recording cut into segments. ``vad_kwargs`` are VAD options
    used for every call (``{"device": ...}`` places the VAD); ``generate(..., max_end_silence_time=...)``
    overrides them per call. ``dtype`` (``fp32``/``bf16``/``fp16``) and ``quantize`` (``int8``, CPU)
    set the ASR model's precision (fp32 is the exact path). ``backend="onnxruntime"`` runs the ASR
    model as an ONNX graph (exported on the fly into a cache, or an export folder as ``model``;
    ``quantize="int8"``: ``model_quant.onnx``; ``funasr_lite/backends``). ``resampler``: ``"funasr"`` (default)
    or ``"soxr"``. FunASR's per-call options given here (``sentence_timestamp``, ``return_raw_text``,
    ``batch_size_s``, ``merge_vad``, ``merge_length_s``, ``return_spk_res``, ``output_dir``) are
    defaults for every ``generate``. ``ncpu`` (default 4, as FunASR) is torch's CPU thread count.
    Attributes as FunASR's: ``model`` (the torch module), ``model_path``, ``kwargs``.
    """

    def __init__(
        self,
        model: str,
        vad_model: str | None = None,
        punc_model: str | None = None,
        spk_model: str | None = None,
        device: str = "cpu",
        batch_size_token: int = 6000,
        dither: float = 0.0,
        seed: int = 0,
        vad_kwargs: dict[str, Any] | None = None,
        punc_kwargs: dict[str, Any] | None = None,
        spk_kwargs: dict[str, Any] | None = None,
        spk_mode: str = "punc_segment",
        split_at_speaker_change: bool = True,
        dtype: str = "fp32",
        quantize: str | None = None,
        resampler: str = DEFAULT_RESAMPLER,
        ncpu: int = 4,
        log_level: str | None = None,
        data_type: str = "sound",
        backend: str = "torch",
        **kwargs: Any,
    ) -> None:
        kwargs = dict(kwargs)
        opts.check_refused(kwargs, "AutoModel")
        if log_level is not None:
            opts.set_log_level(log_level)
        self.ncpu = opts.resolve_ncpu(ncpu)
        opts.apply_ncpu(self.ncpu)
        if data_type not in ("sound", "fbank"):
            raise ValueError(f"data_type={data_type!r} is not supported: use 'sound' or 'fbank'")
        if resampler not in RESAMPLERS:
            raise ValueError(f"unknown resampler {resampler!r}: use one of {', '.join(RESAMPLERS)}")
        self.defaults = opts.CallDefaults().updated(kwargs)
        self.data_type = data_type
        device = resolve_device(device)
        check_backend(backend, device, dtype, quantize)
        vad_device, vad_opts = opts.sub_kwargs("vad_kwargs", vad_kwargs, VadOptions.field_names(), device)
        punc_device, _ = opts.sub_kwargs("punc_kwargs", punc_kwargs, (), device)
        spk_device, _ = opts.sub_kwargs("spk_kwargs", spk_kwargs, (), device)
        if vad_model is not None:
            opts.check_vad_options(vad_opts, "vad_kwargs")
        md = open_deploy_dir(model) if backend == "onnxruntime" and is_deploy_dir(model) else open_model_dir(model)
        dither_override = opts.config_overrides(kwargs, md.config, "AutoModel")
        opts.reject_unknown(kwargs, "AutoModel", opts.CallDefaults.names())
        set_seed(seed)
        self.seed = seed
        self.model_path = str(md.path)
        self.kwargs: dict[str, Any] = {
            **md.config,
            "model": md.model_class,
            "model_path": self.model_path,
            "device": device,
            "ncpu": self.ncpu,
            "data_type": data_type,
            "backend": backend,
            **vars(self.defaults),
        }
        self.pipeline: LongAudioPipeline | None = None
        self.single: VadOnly | PuncOnly | SpeakerOnly | None = None
        if md.model_class in ("FsmnVAD", "CTTransformer", "CAMPPlus"):
            if backend != "torch":
                raise ValueError(f"{model}: backend={backend!r} runs ASR models only for now; use backend='torch'")
            if vad_model or punc_model or spk_model:
                raise ValueError(
                    f"{model}: is a {md.model_class} folder; vad_model/punc_model/spk_model need an ASR model"
                )
            if md.model_class == "FsmnVAD":
                self.single = VadOnly(model, device, resampler, vad_opts)
            elif md.model_class == "CTTransformer":
                self.single = PuncOnly(model, device)
            else:
                self.single = SpeakerOnly(model, device, resampler)
            self.model = self.single.model
            return
        del md  # the ASR loader opens the folder itself
        self.pipeline = build_pipeline(
            model,
            vad_model,
            punc_model,
            device,
            self.defaults.batch_size_s,
            self.defaults.batch_size_threshold_s,
            dither if dither_override is None else dither_override,
            vad_opts,
            spk_model,
            spk_mode,
            split_at_speaker_change,
            dtype,
            quantize,
            vad_device=vad_device,
            resampler=resampler,
            punc_device=punc_device,
            spk_device=spk_device,
            backend=backend,
        )
        self.recognizer = self.pipeline.asr
        self.recognizer.batch_size_token = batch_size_token
        self.model = self.recognizer.model

    def generate(
        self, input: Any, fs: int | None = None, key: str | list[str] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Run the model on ``input``; one FunASR-shaped dict per input, in order.

        For an ASR model: ``key``, ``text`` [, ``timestamp``, ``sentence_info``, ``raw_text``].
        Keyword arguments override the constructor's per-call options; VAD options (e.g.
        ``max_end_silence_time=800``) and speaker counts (``preset_spk_num``) apply to this call;
        an unknown option raises ``TypeError``.
        """
        opts.apply_ncpu(self.ncpu)  # FunASR resets the thread count before every call
        kwargs = dict(kwargs)
        opts.check_refused(kwargs, "generate")
        if self.single is not None:
            return self.single.generate(input, fs, key, kwargs)
        call = self.defaults.updated(kwargs)
        data_type = kwargs.pop("data_type", self.data_type)
        assert self.pipeline is not None
        return run_asr(self.pipeline, input, fs, key, call, data_type, kwargs)
