"""Dev-set evaluation during training: FunASR's loss and accuracy, plus greedy CER."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

import torch

from funasr_lite.scoring.align import align, count_ops
from funasr_lite.train.asr.paraformer_loss import paraformer_training_loss

log = logging.getLogger(__name__)


def token_errors(ref: list[int], hyp: list[int]) -> tuple[int, int]:
    """``(errors, ref length)`` of an id sequence against a reference (Levenshtein)."""
    counts = count_ops(align([str(t) for t in ref], [str(t) for t in hyp]))
    return counts.s + counts.d + counts.i, counts.n


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    batches: Iterable[Any],
    featurize: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    loss_conf: dict[str, Any],
    autocast: Callable[[], Any] = nullcontext,
    cer: bool = True,
) -> dict[str, float]:
    """Token-weighted dev ``loss``, ``acc`` and (``cer=True``) greedy ``cer`` in percent over ``batches``.

    The sampler of the loss is off (``sampling_ratio=0``): accuracy is that of the acoustic
    embeddings alone, as at inference. The model is put back in its previous mode.
    """
    was_training = model.training
    model.eval()
    conf = dict(loss_conf, sampling_ratio=0.0)
    tot_loss = tot_acc = 0.0
    tot_w = 0
    errs = n_ref = 0
    try:
        for batch in batches:
            batch = batch.to(device)
            feats, lens = featurize(batch.fbank, batch.fbank_lens, train=False)
            if not bool(torch.isfinite(feats).all()):  # as in training: never let NaN into the metrics
                log.warning("dev batch skipped: non-finite features (keys %s)", ",".join(batch.keys))
                continue
            with autocast():
                out = paraformer_training_loss(model, feats, lens, batch.ys, batch.ys_lens, **conf)
            w = int(out["weight"])
            tot_loss += float(out["loss"]) * w
            tot_acc += float(out["acc"]) * w
            tot_w += w
            if cer:
                results = model.recognize(feats.float(), lens)
                for i, res in enumerate(results):
                    ref = batch.ys[i, : int(batch.ys_lens[i])].tolist()
                    e, n = token_errors(ref, list(res.token_ids))
                    errs += e
                    n_ref += n
    finally:
        model.train(was_training)
    out = {"loss": tot_loss / max(tot_w, 1), "acc": tot_acc / max(tot_w, 1)}
    if cer:
        out["cer"] = 100.0 * errs / max(n_ref, 1)
    return out
