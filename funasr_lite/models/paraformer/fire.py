"""Integrate-and-fire recurrences, run on the host over the whole batch at once.

FunASR's loop CIF (``cif`` in ``bicif_paraformer/cif_predictor.py``) and ``cif_wo_hidden`` walk
the frames one by one with tensor ops: thousands of tiny kernels per batch on a GPU, and a
Python loop of torch calls on CPU. Only the scalar running sum decides where tokens fire, so
:func:`integrate` runs that recurrence in numpy on a ``(B, T)`` copy of the weights, with the
same float32 operations in the same order (the fires are bit-identical to FunASR's loop), and
:func:`fire_weights` turns the fire pattern into a ``(B, N, T)`` matrix so that the fired
embeddings are one batched matmul on the device. With gradients on (training), the weights keep
the loop's derivatives through a straight-through term on the running sum. :func:`cif_peaks`
(FunASR's ``cif_wo_hidden``, the BiCif timestamp fires) runs the same recurrence; the model and
``postprocess/timestamps.py`` both import it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass
class Fires:
    """``before`` (running sum before frame t is added), ``after`` (after adding, before reset) and
    ``fired`` (``after >= threshold``), all ``(B, T)`` numpy arrays in the weights' dtype."""

    before: np.ndarray
    after: np.ndarray
    fired: np.ndarray


def integrate(alphas: np.ndarray, threshold: float, reset: float) -> Fires:
    """The sequential running sum: add ``alphas[:, t]``; where it reaches ``threshold``, subtract ``reset``.

    FunASR's loop CIF resets by 1 (``integrate - ones``), ``cif_wo_hidden`` by ``threshold``.
    Elementwise across the batch, so an item's result never depends on the others.
    """
    b, t_len = alphas.shape
    a = np.ascontiguousarray(alphas.T)
    dtype = a.dtype
    thr, sub = dtype.type(threshold), dtype.type(reset)
    before = np.empty((t_len, b), dtype)
    after = np.empty((t_len, b), dtype)
    acc = np.zeros(b, dtype)
    for t in range(t_len):
        before[t] = acc
        acc = acc + a[t]
        after[t] = acc
        acc = np.where(acc >= thr, acc - sub, acc)
    return Fires(before.T, after.T, after.T >= thr)


def host_alphas(alphas: Tensor) -> np.ndarray:
    """A float numpy copy of ``alphas`` (one device-to-host transfer)."""
    a = alphas.detach()
    if a.dtype not in (torch.float32, torch.float64):
        a = a.float()
    return a.cpu().numpy()


def fire_weights(alphas: Tensor, fires: Fires, max_len: int) -> Tensor:
    """``W (B, max_len, T)``: token ``k`` of item ``b`` is ``sum_t W[b, k, t] * h[b, t]``.

    As in FunASR's loop: a frame adds its whole weight to the current token, except a firing
    frame, which adds ``1 - running sum`` to the token it completes and the rest to the next.
    Tokens that never fire (the tail) get zero rows.
    """
    dev = alphas.device
    fired = torch.from_numpy(fires.fired).to(dev)
    before = torch.from_numpy(fires.before).to(dev, alphas.dtype)
    fired_before = np.cumsum(fires.fired, axis=1) - fires.fired  # fires before frame t = its token index
    token = torch.from_numpy(fired_before).to(dev)
    if alphas.requires_grad:  # d(running sum)/d(alpha): the loop's gradient through ``integrate``
        expr = torch.cumsum(alphas, dim=1) - alphas - token.to(alphas.dtype)
        before = before + (expr - expr.detach())
    completion = 1.0 - before
    cur = torch.where(fired, completion, alphas)
    remainder = torch.where(fired, alphas - cur, torch.zeros_like(alphas))
    counts = fires.fired.sum(axis=1)
    num_fired = torch.from_numpy(counts).to(dev)
    b, t_len = alphas.shape
    rows = int(max(max_len, int(counts.max(initial=0)))) + 2
    w = alphas.new_zeros(b, rows, t_len)
    w = w.scatter_add(1, token.unsqueeze(1), cur.unsqueeze(1))
    w = w.scatter_add(1, (token + 1).unsqueeze(1), remainder.unsqueeze(1))
    keep = torch.arange(rows, device=dev).unsqueeze(0) < num_fired.unsqueeze(1)
    return (w * keep.unsqueeze(-1).to(w.dtype))[:, :max_len]


def cif_peaks(alphas: Tensor, threshold: float) -> Tensor:
    """FunASR's ``cif_wo_hidden``: running sum, minus ``threshold`` on each fire; returns the sums after adding.

    Sequential in time and elementwise across the batch, so an item's result does not depend
    on the other items (zero alphas past its end change nothing). The recurrence runs on the
    host with FunASR's float32 operations (:func:`integrate`); the result is on ``alphas``' device.
    """
    if alphas.numel() == 0:
        return alphas.new_zeros(alphas.shape)
    after = integrate(host_alphas(alphas), threshold, threshold).after
    return torch.from_numpy(after).to(alphas.device, alphas.dtype)


def cif_peaks_reference(alphas: Tensor, threshold: float) -> Tensor:
    """:func:`cif_peaks` as FunASR writes it, a loop of tensor ops (kept to test the fast one against)."""
    integrate = alphas.new_zeros(alphas.shape[0])
    ones = torch.ones_like(integrate)
    fires = []
    for t in range(alphas.shape[1]):
        integrate = integrate + alphas[:, t]
        fires.append(integrate)
        integrate = torch.where(integrate >= threshold, integrate - ones * threshold, integrate)
    return torch.stack(fires, 1) if fires else alphas.new_zeros(alphas.shape)
