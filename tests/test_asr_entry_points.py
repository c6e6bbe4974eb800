"""AutoModel.generate and bin/asr_inference against FunASR 1.4.16's own generate() results.

Expectations come from tests/fixtures/paraformer (made by tools/make_fixtures/make_paraformer.py
with FunASR at batch size 1): text, tokens, score and timestamps per clip.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from funasr_lite import AutoModel
from funasr_lite.bin import asr_inference, compute_cer
from funasr_lite.errors import InputError
from funasr_lite.writers.recog_files import cer_ready_text

FIX = Path(__file__).parent / "fixtures"
MODELS = ("paraformer_tiny", "bicif_paraformer_tiny")
CLIPS = ("sines_0p6s", "espeak_1p3s", "espeak_2p2s", "speechlike_3p5s")
GENERATE = json.loads((FIX / "paraformer" / "generate.json").read_text(encoding="utf-8"))


def _clip(model: str, clip: str) -> dict:
    return dict(np.load(FIX / "paraformer" / f"{model}_{clip}.npz"))


@pytest.fixture(scope="module", params=MODELS)
def model(request) -> tuple[str, AutoModel]:
    return request.param, AutoModel(model=str(FIX / "models" / request.param))


def test_generate_matches_funasr_one_by_one(model) -> None:
    name, m = model
    for clip in CLIPS:
        ref = GENERATE[f"{name}_{clip}"]
        got = m.generate(input=_clip(name, clip)["waveform"], key=ref["key"])[0]
        assert got == {k: ref[k] for k in ("key", "text", "timestamp") if k in ref}


def test_generate_batched_equals_funasr_batch_one(model) -> None:
    """All clips in one padded batch still give FunASR's batch-1 answers (FunASR's own batching does not)."""
    name, m = model
    waves = [_clip(name, c)["waveform"] for c in CLIPS]
    got = m.generate(input=waves, key=list(CLIPS))
    for clip, g in zip(CLIPS, got):
        ref = GENERATE[f"{name}_{clip}"]
        assert (g["text"], g.get("timestamp")) == (ref["text"], ref.get("timestamp")), clip


def test_every_input_kind_gives_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNASR_LITE_ALLOW_PIPES", "1")  # the "cmd |" input runs only on opt-in
    m = AutoModel(model=str(FIX / "models" / "bicif_paraformer_tiny"))
    wave = _clip("bicif_paraformer_tiny", "espeak_1p3s")["waveform"]
    path = tmp_path / "clip.wav"
    sf.write(path, wave, 16000, subtype="PCM_16")
    (tmp_path / "wav.scp").write_text(f"clip {path}\n")
    pcm = (np.round(wave * 32768).astype("<i2")).tobytes()
    expected = GENERATE["bicif_paraformer_tiny_espeak_1p3s"]["text"]
    for source in (
        str(path),
        path.read_bytes(),
        pcm,
        wave,
        torch.from_numpy(wave),
        str(tmp_path / "wav.scp"),
        f"cat {path} |",
    ):
        assert m.generate(input=source)[0]["text"] == expected, type(source)


def test_non_asr_folder_is_refused_where_an_asr_model_is_needed() -> None:
    """A VAD folder alone is a VAD model (as in FunASR); as the ASR model of a pipeline it is refused."""
    vad = str(FIX / "models" / "fsmn_vad_tiny")
    with pytest.raises(ValueError, match="is a FsmnVAD folder; vad_model/punc_model/spk_model need an ASR model"):
        AutoModel(model=vad, vad_model=vad)


def test_asr_inference_writes_1best_recog_and_resumes(tmp_path: Path) -> None:
    name = "bicif_paraformer_tiny"
    lines = []
    for clip in CLIPS:
        sf.write(tmp_path / f"{clip}.wav", _clip(name, clip)["waveform"], 16000, subtype="PCM_16")
        lines.append(f"{clip} {tmp_path / clip}.wav\n")
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00")
    lines.insert(1, f"broken {tmp_path / 'broken.wav'}\n")
    (tmp_path / "wav.scp").write_text("".join(lines))
    out = tmp_path / "out"
    argv = [
        "--model",
        str(FIX / "models" / name),
        "--wav_scp",
        str(tmp_path / "wav.scp"),
        "--output_dir",
        str(out),
        "--batch_size_token",
        "60",
    ]
    assert asr_inference.main(argv) == 1  # one bad item: reported, the rest decoded
    assert "broken" in (out / "errors.txt").read_text()
    d = out / "1best_recog"

    def table(f: str) -> dict[str, str]:
        return dict(line.split(" ", 1) for line in (d / f).read_text(encoding="utf-8").splitlines() if " " in line)

    text, token, score, ts = table("text"), table("token"), table("score"), table("time_stamp")
    rtf = (d / "rtf").read_text().splitlines()
    assert sorted(text) == sorted(CLIPS) and len(rtf) == len(CLIPS) + 1
    assert re.fullmatch(r"TOTAL rtf=\d+\.\d{4} compute_s=\d+\.\d{3} audio_s=\d+\.\d{3} utts=4", rtf[-1])
    for clip in CLIPS:
        ref = _clip(name, clip)
        assert text[clip] == cer_ready_text(str(ref["text"])) and " " not in text[clip]
        assert token[clip] == str(ref["tokens"])
        assert abs(float(score[clip]) - float(ref["score"])) < 1e-4
        assert json.loads(ts[clip]) == GENERATE[f"{name}_{clip}"]["timestamp"]
    # CER of the output against FunASR's own text is 0
    ref_text = tmp_path / "ref"
    ref_text.write_text("".join(f"{c} {cer_ready_text(str(_clip(name, c)['text']))}\n" for c in CLIPS))
    assert compute_cer.main([str(ref_text), str(d / "text"), str(tmp_path / "cer.txt")]) == 0
    assert "%WER 0.00" in (tmp_path / "cer.txt").read_text()
    # a rerun decodes nothing new and rewrites the same files
    before = (d / "text").read_text()
    journal_lines = (d / ".journal.jsonl").read_text().count("\n")
    assert asr_inference.main(argv) == 1
    assert (d / "text").read_text() == before
    assert (d / ".journal.jsonl").read_text().count("\n") == journal_lines


def test_0x_folder_gives_the_1x_results() -> None:
    """A 0.x ModelScope folder (model.pb, tokens.txt, lower-case config names) decodes like its 1.x twin."""
    m = AutoModel(model=str(FIX / "models" / "paraformer_tiny_0x"))
    for clip in CLIPS:
        ref = GENERATE[f"paraformer_tiny_{clip}"]
        assert m.generate(input=_clip("paraformer_tiny", clip)["waveform"])[0]["text"] == ref["text"], clip


def test_unknown_options_are_refused_not_silently_dropped(caplog) -> None:
    """An option that could change a result is refused in the constructor (FunASR would use it);
    hub and download settings cannot, and pass in silence."""
    with pytest.raises(TypeError, match="unknown option.*beam_size"):
        AutoModel(model=str(FIX / "models" / "paraformer_tiny"), disable_update=True, beam_size=5)
    m = AutoModel(model=str(FIX / "models" / "paraformer_tiny"), disable_update=True)
    assert "disable_update" not in caplog.text
    with pytest.raises(TypeError, match="unknown option.*no_such_option"):
        m.generate(input=_clip("paraformer_tiny", "sines_0p6s")["waveform"], no_such_option=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on the GPU machine)")
def test_cuda_gives_funasr_results() -> None:
    """On CUDA, batched and one by one, the text and timestamps are still FunASR's batch-1 results."""
    for name in MODELS:
        m = AutoModel(model=str(FIX / "models" / name), device="cuda")
        got = m.generate(input=[_clip(name, c)["waveform"] for c in CLIPS], key=list(CLIPS))
        for clip, g in zip(CLIPS, got):
            ref = GENERATE[f"{name}_{clip}"]
            assert (g["text"], g.get("timestamp")) == (ref["text"], ref.get("timestamp")), (name, clip)


def test_fbank_input_gives_funasr_results(model) -> None:
    """data_type="fbank": FunASR's own frontend output (the fixture's feats: fbank, LFR, CMVN) decodes to
    FunASR's text and timestamps for the waveform."""
    name, _ = model
    m = AutoModel(model=str(FIX / "models" / name), data_type="fbank")
    feats = [_clip(name, c)["feats"] for c in CLIPS]
    got = m.generate(input=feats, key=list(CLIPS))
    for clip, g in zip(CLIPS, got):
        ref = GENERATE[f"{name}_{clip}"]
        assert (g["text"], g.get("timestamp")) == (ref["text"], ref.get("timestamp")), (name, clip)
    with pytest.raises(InputError, match=r"fbank features must be \(T, 560\)"):
        m.generate(input=np.zeros((5, 80), dtype=np.float32))
