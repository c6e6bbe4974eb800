"""Does a hotword list of rare words raise their recall? SeACo on the synthetic corpus (egs/synth/asr).

There is no trained SeACo-Paraformer here, and the synthetic recipe trains a plain Paraformer. FunASR
trains SeACo in two phases (the ASR model, then the bias parts with the ASR model frozen); this
script does the second phase briefly, on CPU, with FunASR's recipe written out here:

1. The ASR part is the recipe's trained CPU model (``exp/paraformer_synth_cpu/model_dir``,
   ``CifPredictorV2``), frozen. It goes into a ``SeacoParaformer`` (``CifPredictorV3``: the V2
   weights, plus an untrained timestamp head, which does not touch the text; timestamps of this
   model mean nothing). ``NO_BIAS`` is ``<blank>`` (id 0, never a target), ``inner_dim`` the
   encoder size, the bias decoder 6 attention layers (the ASF reads layer 5).
2. The bias parts (``bias_encoder``, ``seaco_decoder``, ``hotword_output_layer``) are trained on
   ``data/train`` with FunASR's SeACo loss (``SeacoParaformer._calc_seaco_loss`` with
   ``train_decoder`` off): teacher-forced CIF embeddings and the frozen decoder's hidden states;
   per utterance, with probability 0.75, one hotword = a random span of 2..8 reference tokens
   (``generate_index`` of FunASR's ``AudioDatasetHotword``); the batch's hotwords plus ``<s>`` are
   the list; labels are ``NO_BIAS`` except on the span's tokens; label smoothing 0.1 on
   ``hotword_output_layer(seaco(cif) + seaco(hidden))``, the last (``</s>``) position dropped.
3. The model is written as a FunASR folder (with a ``seg_dict`` mapping every character to itself,
   as the official one does) and decoded through ``AutoModel(...).generate(hotword=...)``.
4. Rare words: words of the corpus's word list (jieba's dictionary restricted to the corpus's 400
   characters, ``egs/synth/local/espeak_corpus.jieba_words``) of 2-4 characters that occur in a
   test reference and at most once in all training references. Recall = occurrences found in the
   hypothesis / occurrences in the references. Also reported: the CER, the recall with a list of
   the same number of words that do not occur in the test set (distractors), and hotword
   "false alarms" (a listed word in a hypothesis whose reference lacks it).

Run (CPU, about 10 minutes on 2 cores):
    python bench/seaco_hotword_recall.py --json bench/results/seaco_hotword_recall_synth.json
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))
from recipe_local import add_recipe_local  # noqa: E402

add_recipe_local()
# espeak_corpus and frontend.audio need soundfile/soxr: imported where used, so that the training
# phase runs on a bare GPU machine (torch, numpy, yaml)
from funasr_lite.data.kaldi_lists import read_scp, read_text  # noqa: E402
from funasr_lite.models.paraformer import load_paraformer  # noqa: E402
from funasr_lite.models.paraformer.encoder import length_mask  # noqa: E402
from funasr_lite.models.paraformer.seaco import SeacoParaformer, decoder_hidden, decoder_layers  # noqa: E402
from funasr_lite.scoring.align import edit_distance  # noqa: E402
from funasr_lite.train.asr.losses import label_smoothing_loss  # noqa: E402

SYNTH = REPO / "egs" / "synth" / "asr"
BASE = SYNTH / "exp" / "paraformer_synth_cpu" / "model_dir"
NO_BIAS = 0  # <blank>: never a target
IGNORE = -1


def seaco_config(base_cfg: dict, dim: int) -> dict:
    cfg = json.loads(json.dumps(base_cfg))
    cfg["model"] = "SeacoParaformer"
    cfg["predictor"] = "CifPredictorV3"
    cfg["predictor_conf"].update(
        smooth_factor2=0.25, noise_threshold2=0.01, upsample_times=3, use_cif1_cnn=False, upsample_type="cnn_blstm"
    )
    cfg["model_conf"].update(
        inner_dim=dim,
        bias_encoder_type="lstm",
        bias_encoder_bid=False,
        seaco_lsm_weight=0.1,
        seaco_length_normalized_loss=True,
        train_decoder=False,
        NO_BIAS=NO_BIAS,
    )
    cfg["seaco_decoder"] = "ParaformerSANMDecoder"
    cfg["seaco_decoder_conf"] = {
        "attention_heads": 4,
        "linear_units": 2 * dim,
        "num_blocks": 4,
        "att_layer_num": 6,
        "kernel_size": 21,
        "sanm_shfit": 0,
        "use_output_layer": False,
        "wo_input_layer": True,
    }
    return cfg


def funasr_hotword_span(length: int, rng: random.Random) -> list[int]:
    """FunASR's ``generate_index`` (min 2, max 8, sample rate 0.75; sentences here are too short for two)."""
    lo, hi = 2, 8
    if length < lo or rng.random() >= 0.75:
        return [-1]
    if length == lo:
        return [0, length - 1]
    start = rng.randint(0, length - lo)
    end = rng.randint(min(length - 1, start + lo - 1), min(length - 1, start + hi - 1))
    return [start, end]


def features(frontend, wav_scp: Path, keys: list[str]) -> list[torch.Tensor]:
    from funasr_lite.frontend.audio import load_audio  # noqa: PLC0415

    paths = read_scp(wav_scp)
    out = []
    for k in keys:
        w = torch.from_numpy(load_audio(paths[k]).waveform)[None]
        f, _ = frontend(w, [w.shape[1]])
        out.append(f[0])
    return out


@torch.no_grad()
def teacher_forced(model: SeacoParaformer, feats: list[torch.Tensor], ys: list[list[int]], batch: int = 64):
    """Per utterance: (CIF embeddings with the target length, decoder hidden states), ``len(ys) + 1`` rows (eos)."""
    out = []
    for i in range(0, len(feats), batch):
        fb, yb = feats[i : i + batch], ys[i : i + batch]
        lens = torch.tensor([f.shape[0] for f in fb])
        x = torch.nn.utils.rnn.pad_sequence(fb, batch_first=True)
        enc, enc_lens = model.encoder(x, lens)
        mask = length_mask(enc_lens, enc.shape[1])
        hidden = enc * mask.unsqueeze(-1)
        alphas = model.predictor.alpha_head(hidden, mask)
        target = torch.tensor([len(y) + 1 for y in yb], dtype=alphas.dtype)
        alphas = alphas * (target / alphas.sum(-1))[:, None]
        embeds, _ = model.predictor.integrate(hidden, alphas)
        n = target.long()
        embeds = embeds[:, : int(n.max())]
        if embeds.shape[1] < int(n.max()):  # a float sum just below an integer: pad the last token
            embeds = torch.nn.functional.pad(embeds, (0, 0, 0, int(n.max()) - embeds.shape[1]))
        dec = decoder_hidden(decoder_layers(model.decoder), model.decoder.after_norm, enc, enc_lens, embeds, n)
        for j, m in enumerate(n.tolist()):
            out.append((embeds[j, :m].clone(), dec[j, :m].clone()))
    return out


def train_bias(model: SeacoParaformer, data, ys, steps: int, max_s: float, seed: int, log, device: str = "cpu") -> dict:
    dev = torch.device(device)
    model.to(dev)
    data = [(e.to(dev), h.to(dev)) for e, h in data]
    rng = random.Random(seed)
    torch.manual_seed(seed)
    params = [
        *model.bias_encoder.parameters(),
        *model.seaco_decoder.parameters(),
        *model.hotword_output_layer.parameters(),
    ]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 200))
    model.train()
    order = list(range(len(data)))
    start, step, hist = time.perf_counter(), 0, []
    bs = 32
    while step < steps and time.perf_counter() - start < max_s:
        rng.shuffle(order)
        for i in range(0, len(order) - bs + 1, bs):
            idx = order[i : i + bs]
            embeds = torch.nn.utils.rnn.pad_sequence([data[j][0] for j in idx], batch_first=True)
            hidden = torch.nn.utils.rnn.pad_sequence([data[j][1] for j in idx], batch_first=True)
            n = torch.tensor([data[j][0].shape[0] for j in idx])
            labels = torch.full((len(idx), int(n.max()) - 1), IGNORE, dtype=torch.long)
            n = n.to(dev)
            hotwords = []
            for b, j in enumerate(idx):
                y = ys[j]
                labels[b, : len(y)] = NO_BIAS
                span = funasr_hotword_span(len(y), rng)
                if span[0] != -1:
                    s, e = span
                    hotwords.append(y[s : e + 1])
                    labels[b, s : e + 1] = torch.tensor(y[s : e + 1])
            hotwords.append([model.sos])
            labels = labels.to(dev)
            emb = model.hotword_embeddings(hotwords, dev)
            context = emb.unsqueeze(0).repeat(len(idx), 1, 1)
            clens = torch.full((len(idx),), len(hotwords), dtype=torch.long, device=dev)
            merged = model.seaco_decoder(context, clens, embeds, n) + model.seaco_decoder(context, clens, hidden, n)
            logits = model.hotword_output_layer(merged[:, :-1])
            loss = label_smoothing_loss(logits, labels, 0.1, IGNORE, True)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            hist.append(loss.item())
            step += 1
            if step % 100 == 0:
                log(f"step {step}: loss {np.mean(hist[-100:]):.3f} ({time.perf_counter() - start:.0f} s)")
            if step >= steps or time.perf_counter() - start >= max_s:
                break
    model.eval().cpu()
    return {
        "device": str(dev),
        "steps": step,
        "seconds": round(time.perf_counter() - start, 1),
        "final_loss_100": float(np.mean(hist[-100:])),
    }


def write_folder(model: SeacoParaformer, cfg: dict, token_list: list[str], out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (out / "tokens.json").write_text(json.dumps(token_list, ensure_ascii=False), encoding="utf-8")
    shutil.copyfile(BASE / "am.mvn", out / "am.mvn")
    cjk = [t for t in token_list if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]
    (out / "seg_dict").write_text("".join(f"{c} {c}\n" for c in cjk), encoding="utf-8")
    torch.save(model.state_dict(), out / "model.pt")


def occurrences(text: str, word: str) -> int:
    return text.count(word)


def score(refs: dict[str, str], hyps: dict[str, str], words: list[str]) -> dict:
    found = total = false_alarms = 0
    per_word = {}
    for k, ref in refs.items():
        hyp = hyps.get(k, "")
        for w in words:
            r, h = occurrences(ref, w), occurrences(hyp, w)
            total += r
            found += min(r, h)
            false_alarms += max(0, h - r)
            if r:
                per_word[w] = per_word.get(w, 0) + min(r, h)
    errs = sum(edit_distance(list(refs[k]), list(hyps.get(k, ""))) for k in refs)
    n = sum(len(r) for r in refs.values())
    return {
        "occurrences": total,
        "found": found,
        "recall": round(found / total, 4) if total else None,
        "false_alarms": false_alarms,
        "cer": round(errs / n, 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=SYNTH / "exp" / "seaco_synth_cpu")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--max_train_s", type=float, default=420.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--train_sets", default="train,ft_train", help="data sets the bias parts are trained on")
    ap.add_argument("--sets", default="test,ft_test", help="evaluation sets")
    ap.add_argument("--list_size", type=int, default=49, help="words in the sampled hotword lists (<= 49: no ASF)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--phase",
        default="all",
        choices=("all", "prepare", "train", "evaluate"),
        help="prepare: teacher-forced states -> WORK/cache.pt; train: cache.pt -> WORK/bias_trained.pt "
        "(on --device; a GPU machine needs only cache.pt); evaluate: bias_trained.pt -> folder and scores",
    )
    ap.add_argument("--device", default="cpu", help="device of the training phase")
    ap.add_argument("--limit", type=int, default=None, help="first N training and evaluation utterances (smoke test)")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)

    def log(msg: str) -> None:
        print(msg, flush=True)

    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / "cache.pt"
    trained = args.work / "bias_trained.pt"
    if args.phase in ("all", "prepare"):
        base, frontend, token_list = load_paraformer(BASE)
        cfg_base = yaml.safe_load((BASE / "config.yaml").read_text(encoding="utf-8"))
        cfg = seaco_config(cfg_base, base.encoder.output_size())
        torch.manual_seed(args.seed)
        model = SeacoParaformer.from_config(cfg, len(token_list))
        missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
        assert not unexpected, unexpected
        assert all(
            k.startswith(("bias_encoder", "seaco_decoder", "hotword_output_layer", "predictor.")) for k in missing
        )
        tok = {t: i for i, t in enumerate(token_list)}
        keys, ys, feats = [], [], []
        t0 = time.perf_counter()
        for name in args.train_sets.split(","):
            text = read_text(SYNTH / "data" / name / "text")
            ks = sorted(text)[: args.limit]
            keys += ks
            ys += [[tok.get(c, tok["<unk>"]) for c in text[k]] for k in ks]
            feats += features(frontend, SYNTH / "data" / name / "wav.scp", ks)
        data = teacher_forced(model, feats, ys)
        del feats
        prep_s = time.perf_counter() - t0
        log(f"{len(keys)} training utterances ({args.train_sets}), teacher-forced states in {prep_s:.0f} s")
        torch.save(
            {"cfg": cfg, "token_list": token_list, "state": model.state_dict(), "data": data, "ys": ys, "keys": keys},
            cache,
        )
    if args.phase in ("all", "train"):
        c = torch.load(cache, weights_only=False)
        model = SeacoParaformer.from_config(c["cfg"], len(c["token_list"]))
        model.load_state_dict(c["state"])
        info = train_bias(model, c["data"], c["ys"], args.steps, args.max_train_s, args.seed, log, args.device)
        info["train_sets"], info["train_utterances"] = args.train_sets, len(c["keys"])
        log(f"trained: {info}")
        torch.save({"state": model.state_dict(), "info": info}, trained)
    if args.phase not in ("all", "evaluate"):
        return 0
    c = torch.load(cache, weights_only=False)
    cfg, token_list = c["cfg"], c["token_list"]
    t = torch.load(trained, weights_only=False)
    train_info = t["info"]
    model = SeacoParaformer.from_config(cfg, len(token_list))
    model.load_state_dict(t["state"])
    keys = c["keys"]
    del c
    folder = args.work / "model_dir"
    write_folder(model, cfg, token_list, folder)
    train_text = read_text(SYNTH / "data" / "train" / "text")  # the ASR model's training text: "rare" is relative to it

    from espeak_corpus import jieba_words  # noqa: PLC0415

    from funasr_lite import AutoModel  # noqa: PLC0415
    from funasr_lite.frontend.audio import load_audio  # noqa: PLC0415

    am = AutoModel(model=str(folder))
    base_am = AutoModel(model=str(BASE))
    train_all = "\n".join(train_text.values())
    lexicon, _ = jieba_words(top_chars=400)
    evaluation = {}
    for set_name in args.sets.split(","):
        refs = read_text(SYNTH / "data" / set_name / "text")
        refs = {k: refs[k] for k in sorted(refs)[: args.limit]}
        set_all = "\n".join(refs.values())
        cands = sorted({w for w in lexicon if 2 <= len(w) <= 4 and w in set_all})
        rare = [w for w in cands if train_all.count(w) <= 1]
        others = [w for w in lexicon if 2 <= len(w) <= 4 and w not in set_all and train_all.count(w) <= 1]
        rng = random.Random(args.seed)
        lists = {
            "rare_all": rare,
            "rare_sample": rng.sample(rare, min(args.list_size, len(rare))),
            "distractors": rng.sample(others, min(args.list_size, len(rare))),
        }
        paths = read_scp(SYNTH / "data" / set_name / "wav.scp")
        ks = sorted(refs)
        waves = [load_audio(paths[k]).waveform for k in ks]

        def decode(model_am, hotword_file=None, ks=ks, waves=waves):
            out = model_am.generate(input=waves, key=ks, **({} if hotword_file is None else {"hotword": hotword_file}))
            return {r["key"]: r["text"].replace(" ", "") for r in out}

        base_hyps = decode(base_am)
        seaco_plain = decode(am)
        assert seaco_plain == base_hyps, "the SeACo model without hotwords must decode as the Paraformer it holds"
        res: dict = {"rare_words": len(rare), "rare_word_examples": rare[:12]}
        for list_name, words in lists.items():
            path = args.work / f"hotwords_{set_name}_{list_name}.txt"
            path.write_text("\n".join(words) + "\n", encoding="utf-8")
            hyps = decode(am, str(path))
            scored_on = lists["rare_sample"] if list_name == "distractors" else words
            res[list_name] = {
                "list_size": len(words),
                "asf": len(words) + 1 > 50,
                "no_hotwords": score(refs, base_hyps, scored_on),
                "with_list": score(refs, hyps, scored_on),
            }
            log(f"{set_name} {list_name}: {res[list_name]}")
        evaluation[set_name] = res
    summary = {
        "base_model": str(BASE.relative_to(REPO)),
        "seaco_model": str(folder),
        "train_sets": args.train_sets,
        "train_utterances": len(keys),
        "training": train_info,
        "evaluation": evaluation,
        "note": "distractors: a list of the same size whose words are not in the set; scored on the rare_sample words",
        "torch": torch.__version__,
        "seed": args.seed,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
