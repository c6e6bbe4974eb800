"""Paraformer / BiCif-Paraformer inference golden fixtures: tests/fixtures/paraformer/.

For every tiny model (tests/fixtures/models/{paraformer_tiny,bicif_paraformer_tiny}) and every
clip, the FunASR model's own methods are called step by step on the same features that
`AutoModel.generate` computes, exactly in the order of `Paraformer.inference` /
`BiCifParaformer.inference` (CPU, batch 1, dither 0, seed 0):

    load_audio_text_image_video -> extract_fbank(frontend=WavFrontend)      -> feats
    model.encode(feats, feats_lens)                                         -> encoder_out
    model.calc_predictor(encoder_out, lens)   (CifPredictorV2/V3.forward)    -> embeds, token_num, alphas, peaks
    pre_token_length = token_num.round().long()
    model.cal_decoder_with_predictor(...)     (decoder + log_softmax)        -> decoder_logp
    [BiCif] model.calc_predictor_timestamp(encoder_out, lens, pre_token_length) -> us_alphas, us_peaks
    greedy: argmax / sum of max log-prob; drop ids eos/sos/blank; tokenizer.ids2tokens
    [BiCif] ts_prediction_lfr6_standard(us_alphas[:3T], us_peaks[:3T], tokens)
    postprocess_utils.sentence_postprocess(tokens[, timestamp])            -> text[, timestamp]

and `AutoModel.generate(input=waveform)` is run as well; its text / timestamps are asserted
equal to the assembled ones, and every intermediate tensor it computed (captured by wrapping
the model methods) is asserted bit-identical to the step-by-step ones.

Also writes generate.json (batch-1 generate() results), generate_batched.json (one
generate(input=[4 clips], batch_size=4) per model, compared with batch 1), postprocess.json
(FunASR's token->text functions on hand-picked token lists) and meta.json.

Run:  tools/funasr_venv/bin/python tools/make_fixtures/make_paraformer.py
"""

import copy
import logging
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES, REPO, espeak_mandarin, save_npz, sines_noise, speech_like, write_json  # noqa: E402

logging.disable(logging.WARNING)
from funasr import AutoModel  # noqa: E402
from funasr.utils import postprocess_utils  # noqa: E402
from funasr.utils.load_utils import extract_fbank, load_audio_text_image_video  # noqa: E402
from funasr.utils.timestamp_tools import ts_prediction_lfr6_standard  # noqa: E402

MODELS = os.path.join(FIXTURES, "models")
OUT = os.path.join(FIXTURES, "paraformer")
MODEL_NAMES = ["paraformer_tiny", "bicif_paraformer_tiny"]
NOTES = []


def clips():
    """clip name -> float32 16 kHz waveform on the 16-bit grid; fixed seeds, order matters."""
    c = {}
    c["sines_0p6s"] = sines_noise(9600, seed=50)
    e1 = espeak_mandarin("你好", seed=21, speed=160, n_samples=20800)
    e2 = espeak_mandarin("今天天气很好", seed=22, speed=230, n_samples=35200)
    if e1 is not None:
        c["espeak_1p3s"] = e1
    else:  # espeak-ng absent: speech-like stand-ins of the same length
        c["speechlike_1p3s"] = speech_like(20800, seed=21)
    if e2 is not None:
        c["espeak_2p2s"] = e2
    else:
        c["speechlike_2p2s"] = speech_like(35200, seed=22)
    c["speechlike_3p5s"] = speech_like(56000, seed=40)
    return c


def build(name):
    am = AutoModel(
        model=os.path.join(MODELS, name), disable_update=True, device="cpu", disable_pbar=True, log_level="ERROR"
    )
    assert not am.model.training
    return am


class Recorder:
    """Wraps the model methods that inference() calls and records their inputs/outputs."""

    def __init__(self, model, names):
        self.model, self.calls = model, {}
        self.orig = {n: getattr(model, n) for n in names}
        for n in names:
            setattr(model, n, self._wrap(n, self.orig[n]))

    def _wrap(self, n, f):
        def g(*args, **kw):
            out = f(*args, **kw)
            self.calls.setdefault(n, []).append(
                (
                    tuple(a.clone() if torch.is_tensor(a) else a for a in args),
                    tuple(o.clone() if torch.is_tensor(o) else o for o in out),
                )
            )
            return out

        return g

    def reset(self):
        self.calls = {}

    def remove(self):
        for n, f in self.orig.items():
            setattr(self.model, n, f)


def _np(t):
    return t.detach().cpu().numpy()


def step_by_step(am, wave):
    """Paraformer(.BiCif).inference, batch 1, split into its steps. Returns a dict of tensors."""
    m, kw = am.model, am.kwargs
    frontend, tokenizer = kw["frontend"], kw["tokenizer"]
    is_bicif = hasattr(m, "calc_predictor_timestamp")
    r = {}
    with torch.no_grad():
        audio = load_audio_text_image_video([wave], fs=frontend.fs, audio_fs=16000)
        speech, speech_lengths = extract_fbank(audio, data_type="sound", frontend=frontend)
        r["speech"], r["speech_lengths"] = speech, speech_lengths
        enc, enc_lens = m.encode(speech, speech_lengths)
        r["encoder_out"], r["encoder_out_lens"] = enc, enc_lens
        embeds, token_num, alphas, peaks = m.calc_predictor(enc, enc_lens)
        r.update(pre_acoustic_embeds=embeds, token_num=token_num, alphas_tail=alphas, cif_peak=peaks)
        ptl = token_num.round().long()
        r["pre_token_length_long"] = ptl
        if torch.max(ptl) < 1:
            raise RuntimeError("CIF fired 0 tokens")
        dec, _ = m.cal_decoder_with_predictor(enc, enc_lens, embeds, ptl)
        r["decoder_logp"] = dec
        am_scores = dec[0, : ptl[0], :]
        yseq = am_scores.argmax(dim=-1)
        score = torch.sum(am_scores.max(dim=-1)[0], dim=-1)  # Hypothesis.score
        r["yseq"], r["score"] = yseq, score
        ids = [x for x in yseq.tolist() if x not in (m.eos, m.sos, m.blank_id)]
        tokens = tokenizer.ids2tokens(ids)
        r["token_ids"], r["token_list"] = ids, tokens
        if is_bicif:
            _, _, us_alphas, us_peaks = m.calc_predictor_timestamp(enc, enc_lens, ptl)
            r["us_alphas"], r["us_peaks"] = us_alphas.clone(), us_peaks.clone()
            T3 = int(enc_lens[0]) * 3
            # ts_prediction_lfr6_standard rescales its alphas argument IN PLACE when the peak
            # count != len(tokens)+1, so hand it copies (generate() hands it views).
            _, ts_raw = ts_prediction_lfr6_standard(
                us_alphas[0][:T3].clone(), us_peaks[0][:T3].clone(), copy.copy(tokens), vad_offset=0
            )
            text, ts, words = postprocess_utils.sentence_postprocess(tokens, ts_raw)
            r["timestamp_raw"], r["timestamp"], r["text"] = ts_raw, ts, text
        else:
            text, words = postprocess_utils.sentence_postprocess(tokens)
            r["text"] = text
    return r


def check_recorded(rec, r, is_bicif, b=0, n_b=1):
    """Bit-exact comparison of what generate() computed with the step-by-step tensors."""
    (((speech, lens), (enc, enc_lens)),) = rec.calls["encode"]
    assert torch.equal(speech[b, : int(lens[b])], r["speech"][0]), "feats"
    L = int(enc_lens[b])
    d = {}
    d["encoder_out"] = (enc[b, :L] - r["encoder_out"][0]).abs().max().item()
    ((_, (emb, tn, alphas, peaks)),) = rec.calls["calc_predictor"]
    d["alphas"] = (alphas[b, :L] - r["alphas_tail"][0, :L]).abs().max().item()
    d["alphas_tail"] = (alphas[b, L] - r["alphas_tail"][0, L]).abs().item()
    d["token_num"] = abs(float(tn[b]) - float(r["token_num"][0]))
    N = int(r["pre_token_length_long"][0])
    if int(tn[b].round()) == N:
        d["pre_acoustic_embeds"] = (emb[b, :N] - r["pre_acoustic_embeds"][0]).abs().max().item()
        ((_, (dec, _)),) = rec.calls["cal_decoder_with_predictor"]
        d["decoder_logp"] = (dec[b, :N] - r["decoder_logp"][0]).abs().max().item()
        if is_bicif:
            ((_, (_, _, us_a, us_p)),) = rec.calls["calc_predictor_timestamp"]
            d["us_alphas"] = (us_a[b, : 3 * L] - r["us_alphas"][0]).abs().max().item()
    if n_b == 1:
        assert all(v == 0.0 for v in d.values()), d
    return d


def cif_margin(alphas_tail):
    """Smallest distance of the float64 prefix sums of the CIF alphas to an integer (fire ties)."""
    cs = np.cumsum(alphas_tail.astype(np.float64))
    return float(np.min(np.abs(cs - np.round(cs))))


def model_fixtures(name, waves, gen_json, batched_json, meta):
    am = build(name)
    m = am.model
    is_bicif = hasattr(m, "calc_predictor_timestamp")
    names = ["encode", "calc_predictor", "cal_decoder_with_predictor"]
    if is_bicif:
        names.append("calc_predictor_timestamp")
    rec = Recorder(m, names)
    per_clip = {}
    for clip, w in waves.items():
        key = f"{name}_{clip}"
        r = step_by_step(am, w)
        rec.reset()
        res = am.generate(input=w, key=key)
        assert len(res) == 1 and res[0]["key"] == key, res
        g = res[0]
        assert g["text"] == r["text"], (g["text"], r["text"])
        if is_bicif:
            assert g["timestamp"] == r["timestamp"], (g["timestamp"], r["timestamp"])
        else:
            assert "timestamp" not in g
        check_recorded(rec, r, is_bicif)
        gen_json[key] = g
        per_clip[clip] = r

        T = int(r["encoder_out_lens"][0])
        N = int(r["pre_token_length_long"][0])
        arrays = dict(
            waveform=w,
            feats=_np(r["speech"][0]),
            encoder_out=_np(r["encoder_out"][0]),
            encoder_out_lens=np.int64(T),
            alphas=_np(r["alphas_tail"][0, :T]),
            alphas_tail=_np(r["alphas_tail"][0]),
            cif_peak=_np(r["cif_peak"][0]),
            pre_token_length=np.float32(r["token_num"][0].item()),
            num_tokens=np.int64(N),
            pre_acoustic_embeds=_np(r["pre_acoustic_embeds"][0]),
            decoder_logp=_np(r["decoder_logp"][0]),
            token_ids=np.asarray(r["token_ids"], dtype=np.int64),
            tokens=np.asarray(" ".join(r["token_list"])),
            text=np.asarray(g["text"]),
            score=np.float32(r["score"].item()),
        )
        assert arrays["feats"].dtype == np.float32 and arrays["feats"].shape[1] == 560
        assert arrays["pre_acoustic_embeds"].shape[0] == N == arrays["decoder_logp"].shape[0]
        if is_bicif:
            arrays["us_alphas"] = _np(r["us_alphas"][0])
            arrays["us_peaks"] = _np(r["us_peaks"][0])
            arrays["timestamp"] = np.asarray(g["timestamp"], dtype=np.int64).reshape(-1, 2)
            arrays["timestamp_raw"] = np.asarray(r["timestamp_raw"], dtype=np.int64).reshape(-1, 2)
        save_npz(os.path.join(OUT, f"{key}.npz"), **arrays)
        n_unk = sum(t == "<unk>" for t in r["token_list"])
        n_bpe = sum("@@" in t for t in r["token_list"])
        dropped = [x for x in r["yseq"].tolist() if x in (0, 1, 2)]
        meta["clips"][key] = {
            "samples": int(len(w)),
            "feats_frames": int(arrays["feats"].shape[0]),
            "encoder_out_lens": T,
            "sum_alphas_tail": float(arrays["alphas_tail"].astype(np.float64).sum()),
            "num_tokens": N,
            "n_token_ids_after_filter": len(r["token_ids"]),
            "dropped_ids": dropped,
            "n_unk": n_unk,
            "n_bpe_pieces": n_bpe,
            "cif_prefix_sum_min_dist_to_int": round(cif_margin(arrays["alphas_tail"]), 6),
            "score": float(arrays["score"]),
        }
        if is_bicif:
            n_fire = int((arrays["us_peaks"] >= 1.0 - 1e-4).sum())
            meta["clips"][key]["us_peaks_fires"] = n_fire
            # ts_prediction_lfr6_standard rescales alphas and re-runs cif_wo_hidden when
            # the number of fires != len(tokens) + 1
            meta["clips"][key]["ts_renormalized"] = n_fire != len(r["token_list"]) + 1
        NOTES.append(
            f"{key}: T={T} N={N} ids={r['token_ids']} tokens={' '.join(r['token_list'])!r} "
            f"text={g['text']!r} unk={n_unk} bpe={n_bpe} dropped={dropped} "
            f"tie-margin={cif_margin(arrays['alphas_tail']):.4f} "
            f"sum={arrays['alphas_tail'].astype(np.float64).sum():.3f}"
        )

    # ---- batched generate(): all clips in one batch
    keys = [f"{name}_{c}" for c in waves]
    rec.reset()
    res = am.generate(input=list(waves.values()), batch_size=len(waves))
    assert len(rec.calls["encode"]) == 1, "expected one batch"
    assert len(res) == len(keys)
    out, comp = {}, {}
    for b, (key, clip) in enumerate(zip(keys, waves)):
        g = dict(res[b])
        g["funasr_key"] = g["key"]
        g["key"] = key
        out[key] = g
        r1 = per_clip[clip]
        diffs = check_recorded(rec, r1, is_bicif, b=b, n_b=len(keys))
        c = {
            "text_equal": g["text"] == r1["text"],
            "max_abs_diff_vs_batch1": diffs,
            "num_tokens_batch1": int(r1["pre_token_length_long"][0]),
            "num_tokens_batched": int(rec.calls["calc_predictor"][0][1][1][b].round()),
        }
        if is_bicif:
            c["timestamp_equal"] = g["timestamp"] == r1["timestamp"]
            if len(g["timestamp"]) == len(r1["timestamp"]):
                c["timestamp_max_abs_diff_ms"] = (
                    int(np.max(np.abs(np.asarray(g["timestamp"]) - np.asarray(r1["timestamp"]))))
                    if g["timestamp"]
                    else 0
                )
        comp[key] = c
        NOTES.append(f"batched {key}: {c}")
    batched_json[name] = {
        "call": f"AutoModel(model=tests/fixtures/models/{name}, device='cpu').generate("
        f"input=[{', '.join(waves)}] (numpy waveforms, in this order), batch_size={len(keys)})",
        "results": out,
        "comparison_with_batch1": comp,
    }
    rec.remove()


# ----------------------------------------------------------------------------------------
def _ts(n, start=50, step=120):
    return [[start + i * step, start + (i + 1) * step] for i in range(n)]


POSTPROCESS_CASES = [
    # (name, tokens, with_timestamps)
    ("zh", ["你", "好", "世", "界"], False),
    ("zh_ts", ["你", "好", "世", "界"], True),
    ("en_bpe", ["he@@", "llo", "wor@@", "ld"], False),
    ("en_bpe_ts", ["he@@", "llo", "wor@@", "ld"], True),
    ("mixed", ["你", "好", "he@@", "llo", "世", "界"], False),
    ("mixed_ts", ["你", "好", "he@@", "llo", "世", "界"], True),
    ("zh_unk_start", ["<unk>", "你", "好"], False),
    ("zh_unk_start_ts", ["<unk>", "你", "好"], True),
    ("zh_unk_middle_ts", ["你", "<unk>", "好"], True),
    ("zh_unk_end_ts", ["你", "好", "<unk>"], True),
    ("en_unk_middle", ["he@@", "<unk>", "llo"], False),
    ("en_unk_middle_ts", ["he@@", "llo", "<unk>", "wor@@", "ld"], True),
    ("mixed_unk_ts", ["你", "<unk>", "he@@", "llo"], True),
    ("mixed_unk_end", ["今", "天", "the", "<unk>"], False),
    ("only_unk", ["<unk>"], False),
    ("only_unk_ts", ["<unk>"], True),
    ("digits", ["1", "2", "3"], False),
    ("zh_digits_ts", ["今", "天", "2", "0", "2", "4", "年"], True),
    ("letters", ["a", "b", "c"], False),
    ("letters_ts", ["a", "b", "c"], True),
    ("zh_letters_zh_ts", ["你", "a", "b", "好"], True),
    ("zh_letters_zh", ["你", "a", "b", "好"], False),
    ("en_words", ["the", "wor@@", "ld", "and", "i"], False),
    ("en_words_ts", ["the", "wor@@", "ld", "and", "i"], True),
    ("en_then_zh", ["he@@", "llo", "你", "好"], False),
    ("en_then_zh_ts", ["he@@", "llo", "你", "好"], True),
    ("zh_en_zh", ["我", "ing", "的"], False),
    ("dangling_bpe_before_zh", ["he@@", "你"], False),
    ("dangling_bpe_end", ["你", "a@@"], False),
    ("en_digits", ["wor@@", "ld", "1", "2"], False),
    ("single_letter_words", ["i", "the", "a", "i"], False),
    ("sos_eos", ["<s>", "你", "好", "</s>"], False),
    ("punct_ts", ["你", "好", "，", "世", "界"], True),
    ("apostrophe", ["it's", "ok"], False),
    ("empty", [], False),
    ("empty_ts", [], True),
]


def postprocess_fixtures(tokenizer):
    cases = []
    for name, toks, with_ts in POSTPROCESS_CASES:
        ts_in = _ts(len(toks)) if with_ts else None
        case = {"name": name, "tokens": list(toks), "timestamp_in": copy.deepcopy(ts_in)}
        if with_ts:
            text, ts_out, words = postprocess_utils.sentence_postprocess(list(toks), copy.deepcopy(ts_in))
            case.update(
                text=text,
                timestamp_out=ts_out,
                words=words,
                function="funasr.utils.postprocess_utils.sentence_postprocess(tokens, timestamp)",
            )
        else:
            text, words = postprocess_utils.sentence_postprocess(list(toks))
            case.update(
                text=text,
                timestamp_out=None,
                words=words,
                function="funasr.utils.postprocess_utils.sentence_postprocess(tokens)",
            )
        # what Paraformer.inference computes first (and then overwrites for a CharTokenizer)
        case["char_tokenizer_tokens2text"] = tokenizer.tokens2text(list(toks))
        cases.append(case)
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    waves = clips()
    gen_json, batched_json = {}, {}
    import funasr

    meta = {"funasr": funasr.__version__, "torch": torch.__version__, "clips": {}, "clip_order": list(waves)}
    for name in MODEL_NAMES:
        model_fixtures(name, waves, gen_json, batched_json, meta)
    write_json(os.path.join(OUT, "generate.json"), gen_json)
    write_json(os.path.join(OUT, "generate_batched.json"), batched_json)

    # 0.x folder: can FunASR 1.x load it? (plain, then pointing init_param at model.pb)
    d0 = os.path.join(MODELS, "paraformer_tiny_0x")
    attempts = {
        "AutoModel(model=<0x dir>)": {},
        "AutoModel(model=<0x dir>, init_param=<0x dir>/model.pb)": {"init_param": os.path.join(d0, "model.pb")},
    }
    meta["paraformer_tiny_0x"] = {}
    for call, extra in attempts.items():
        try:
            am0 = AutoModel(model=d0, disable_update=True, device="cpu", disable_pbar=True, log_level="ERROR", **extra)
            r0 = am0.generate(input=waves[list(waves)[0]], key="paraformer_tiny_0x")
            meta["paraformer_tiny_0x"][call] = {"loaded": True, "result": r0}
        except Exception as e:  # noqa: BLE001
            msg = f"{type(e).__name__}: {e}".replace(REPO + os.sep, "").replace(REPO, ".")
            meta["paraformer_tiny_0x"][call] = {"loaded": False, "error": " ".join(msg.split())[:300]}
    NOTES.append(f"paraformer_tiny_0x: {meta['paraformer_tiny_0x']}")

    tok = build("paraformer_tiny").kwargs["tokenizer"]
    write_json(os.path.join(OUT, "postprocess.json"), postprocess_fixtures(tok))
    write_json(os.path.join(OUT, "meta.json"), meta)
    print("\n".join(NOTES))


if __name__ == "__main__":
    main()
