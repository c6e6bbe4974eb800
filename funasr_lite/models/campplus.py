"""CAM++ speaker-embedding network (FunASR ``CAMPPlus``, ``funasr/models/campplus/model.py``, from 3D-Speaker).

Module and parameter names are FunASR's / 3D-Speaker's, so the official
``campplus_cn_common.bin`` (937 entries incl. BatchNorm running statistics) loads strictly,
unchanged. The operations and their order follow ``funasr/models/campplus/{model,components}.py``,
so float32 CPU results are bit-identical to FunASR for the same input batch.

Input ``(B, T, 80)`` CAM++ fbank (see ``funasr_lite.frontend.fbank.campplus_fbank``), output
``(B, embedding_size)`` embeddings, no L2 normalisation.

Padding: FunASR itself never passes lengths. It zero-pads features to a batch (``pad_list``) and
runs the network over the padded frames, which changes a shorter item's embedding (the zero
frames go through every convolution, the 100-frame segment pooling, the time mean and the std).
In the diarization pipeline this never happens because every chunk is 1.5 s (148 frames).
``CAMPPlus.forward(feats)`` without ``lengths`` reproduces FunASR's behaviour for the given
tensor; with ``lengths`` each item's embedding equals its unpadded batch-of-one result
(items are run in groups of equal length, so no padding reaches the network).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from funasr_lite.errors import ModelError
from funasr_lite.modelio import load_state_dict_strict, open_model_dir
from funasr_lite.modelio.checkpoint import no_random_init

# The official 3D-Speaker / FunASR hyper-parameters (FunASR's funasr/models/campplus/template.yaml).
DEFAULT_CONF: dict[str, Any] = {
    "feat_dim": 80,
    "embedding_size": 192,
    "growth_rate": 32,
    "bn_size": 4,
    "init_channels": 128,
    "config_str": "batchnorm-relu",
    "memory_efficient": True,
    "output_level": "segment",
}
SEG_LEN = 100  # CAM layer segment pooling, frames (hard-coded in FunASR)


def get_nonlinear(config_str: str, channels: int) -> nn.Sequential:
    """``"batchnorm-relu"`` etc. -> Sequential with FunASR's child names (``batchnorm``, ``relu``, ``prelu``)."""
    seq = nn.Sequential()
    for name in config_str.split("-"):
        if name == "relu":
            seq.add_module("relu", nn.ReLU(inplace=True))
        elif name == "prelu":
            seq.add_module("prelu", nn.PReLU(channels))
        elif name == "batchnorm":
            seq.add_module("batchnorm", nn.BatchNorm1d(channels))
        elif name == "batchnorm_":
            seq.add_module("batchnorm", nn.BatchNorm1d(channels, affine=False))
        else:
            raise ValueError(f"unexpected nonlinearity {name!r} in config_str {config_str!r}")
    return seq


class BasicResBlock(nn.Module):
    """2-D residual block of the FCM head; stride applies to the frequency axis only."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class FCM(nn.Module):
    """Front-end convolution module: (B, F, T) -> (B, 32·F/8, T). ``m_channels=32`` as in FunASR."""

    def __init__(self, feat_dim: int = 80, m_channels: int = 32, num_blocks: tuple[int, int] = (2, 2)) -> None:
        super().__init__()
        self.in_planes = m_channels
        self.conv1 = nn.Conv2d(1, m_channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        # FunASR builds layer2 with num_blocks[0] too (both are 2).
        self.layer1 = self._make_layer(m_channels, num_blocks[0], stride=2)
        self.layer2 = self._make_layer(m_channels, num_blocks[0], stride=2)
        self.conv2 = nn.Conv2d(m_channels, m_channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m_channels)
        self.out_channels = m_channels * (feat_dim // 8)

    def _make_layer(self, planes: int, num_blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(BasicResBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = self.layer2(self.layer1(out))
        out = F.relu(self.bn2(self.conv2(out)))
        b, c, f, t = out.shape
        return out.reshape(b, c * f, t)


class TDNNLayer(nn.Module):
    """Conv1d + nonlinearity; ``padding=-1`` means 'same' padding for the odd kernel."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        bias: bool = False,
        config_str: str = "batchnorm-relu",
    ) -> None:
        super().__init__()
        if padding < 0:
            padding = (kernel_size - 1) // 2 * dilation
        self.linear = nn.Conv1d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=bias
        )
        self.nonlinear = get_nonlinear(config_str, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.nonlinear(self.linear(x))


def seg_pooling(x: Tensor, seg_len: int = SEG_LEN) -> Tensor:
    """Average over consecutive ``seg_len``-frame segments (the last one partial: ``ceil_mode``),
    broadcast back to every frame of its segment."""
    seg = F.avg_pool1d(x, kernel_size=seg_len, stride=seg_len, ceil_mode=True)
    shape = seg.shape
    seg = seg.unsqueeze(-1).expand(*shape, seg_len).reshape(*shape[:-1], -1)
    return seg[..., : x.shape[-1]]


class CAMLayer(nn.Module):
    """Context-aware masking: local conv output times a sigmoid mask from global + segment context."""

    def __init__(
        self,
        bn_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        padding: int,
        dilation: int,
        bias: bool,
        reduction: int = 2,
    ) -> None:
        super().__init__()
        self.linear_local = nn.Conv1d(
            bn_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=bias
        )
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.linear2 = nn.Conv1d(bn_channels // reduction, out_channels, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear_local(x)
        context = x.mean(-1, keepdim=True) + seg_pooling(x)
        context = self.relu(self.linear1(context))
        return y * self.sigmoid(self.linear2(context))


class CAMDenseTDNNLayer(nn.Module):
    """BN-ReLU-Conv1x1 bottleneck, BN-ReLU, then a CAM layer (one D-TDNN layer)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bn_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        bias: bool = False,
        config_str: str = "batchnorm-relu",
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"CAM++ needs an odd kernel size, got {kernel_size}")
        padding = (kernel_size - 1) // 2 * dilation
        self.nonlinear1 = get_nonlinear(config_str, in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = get_nonlinear(config_str, bn_channels)
        self.cam_layer = CAMLayer(
            bn_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=bias
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.linear1(self.nonlinear1(x))
        return self.cam_layer(self.nonlinear2(x))


class CAMDenseTDNNBlock(nn.ModuleList):
    """Densely connected D-TDNN layers ``tdnnd1..N``; each output is concatenated to its input."""

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        out_channels: int,
        bn_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        bias: bool = False,
        config_str: str = "batchnorm-relu",
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            self.add_module(
                f"tdnnd{i + 1}",
                CAMDenseTDNNLayer(
                    in_channels + i * out_channels,
                    out_channels,
                    bn_channels,
                    kernel_size,
                    stride=stride,
                    dilation=dilation,
                    bias=bias,
                    config_str=config_str,
                ),
            )

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        for layer in self:
            x = torch.cat([x, layer(x)], dim=1)
        return x


class TransitLayer(nn.Module):
    """BN-ReLU then Conv1x1 (halves the channels between blocks)."""

    def __init__(
        self, in_channels: int, out_channels: int, bias: bool = True, config_str: str = "batchnorm-relu"
    ) -> None:
        super().__init__()
        self.nonlinear = get_nonlinear(config_str, in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.nonlinear(x))


class StatsPool(nn.Module):
    """Mean and **unbiased** std over time, concatenated: (B, C, T) -> (B, 2C)."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x.mean(dim=-1), x.std(dim=-1, unbiased=True)], dim=-1)


class DenseLayer(nn.Module):
    """Conv1x1 on a (B, C) vector + nonlinearity (``batchnorm_`` = BatchNorm1d without affine)."""

    def __init__(
        self, in_channels: int, out_channels: int, bias: bool = False, config_str: str = "batchnorm-relu"
    ) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=bias)
        self.nonlinear = get_nonlinear(config_str, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = self.linear(x.unsqueeze(-1)).squeeze(-1)
        else:
            x = self.linear(x)
        return self.nonlinear(x)


class CAMPPlus(nn.Module):
    """CAM++ (segment level): ``(B, T, feat_dim)`` fbank -> ``(B, embedding_size)``."""

    def __init__(
        self,
        feat_dim: int = 80,
        embedding_size: int = 192,
        growth_rate: int = 32,
        bn_size: int = 4,
        init_channels: int = 128,
        config_str: str = "batchnorm-relu",
        memory_efficient: bool = True,
        output_level: str = "segment",
    ) -> None:
        super().__init__()
        if output_level != "segment":
            raise ValueError(f"only output_level 'segment' is supported, got {output_level!r}")
        del memory_efficient  # gradient checkpointing, training only
        self.feat_dim = feat_dim
        self.embedding_size = embedding_size
        self.head = FCM(feat_dim=feat_dim)
        channels = self.head.out_channels
        self.xvector = nn.Sequential(
            OrderedDict(
                [
                    (
                        "tdnn",
                        TDNNLayer(channels, init_channels, 5, stride=2, dilation=1, padding=-1, config_str=config_str),
                    )
                ]
            )
        )
        channels = init_channels
        for i, (num_layers, kernel_size, dilation) in enumerate(zip((12, 24, 16), (3, 3, 3), (1, 2, 2))):
            self.xvector.add_module(
                f"block{i + 1}",
                CAMDenseTDNNBlock(
                    num_layers,
                    channels,
                    growth_rate,
                    bn_size * growth_rate,
                    kernel_size,
                    dilation=dilation,
                    config_str=config_str,
                ),
            )
            channels += num_layers * growth_rate
            self.xvector.add_module(
                f"transit{i + 1}", TransitLayer(channels, channels // 2, bias=False, config_str=config_str)
            )
            channels //= 2
        self.xvector.add_module("out_nonlinear", get_nonlinear(config_str, channels))
        self.xvector.add_module("stats", StatsPool())
        self.xvector.add_module("dense", DenseLayer(channels * 2, embedding_size, config_str="batchnorm_"))

    def forward(self, feats: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Embeddings of a ``(B, T, feat_dim)`` batch.

        Without ``lengths`` the whole tensor is used, padding included (FunASR's behaviour).
        With ``lengths`` (B,) each item sees only its first ``lengths[b]`` frames (>= 1): items
        of equal length run together, so the result equals the per-item unpadded result.
        """
        if feats.dim() != 3 or feats.shape[-1] != self.feat_dim:
            raise ValueError(f"feats must be (B, T, {self.feat_dim}), got {tuple(feats.shape)}")
        if lengths is None:
            return self._forward(feats)
        lengths = torch.as_tensor(lengths, device=feats.device).long()
        if lengths.shape != feats.shape[:1]:
            raise ValueError(f"lengths must have shape ({feats.shape[0]},), got {tuple(lengths.shape)}")
        if feats.shape[0] and (int(lengths.min()) < 1 or int(lengths.max()) > feats.shape[1]):
            raise ValueError(f"lengths must lie in [1, {feats.shape[1]}], got {lengths.tolist()}")
        if bool((lengths == feats.shape[1]).all()):
            return self._forward(feats)
        out = feats.new_empty((feats.shape[0], self.embedding_size))
        for n in torch.unique(lengths).tolist():
            idx = (lengths == n).nonzero().squeeze(1)
            out[idx] = self._forward(feats[idx, :n])
        return out

    def _forward(self, feats: Tensor) -> Tensor:
        x = feats.permute(0, 2, 1)  # (B, T, F) -> (B, F, T)
        return self.xvector(self.head(x))


def campplus_config(model_conf: dict[str, Any] | None) -> dict[str, Any]:
    """FunASR's ``model_conf`` over the official defaults; unknown keys are ignored (FunASR's ``**kwargs``)."""
    conf = dict(DEFAULT_CONF)
    conf.update({k: v for k, v in (model_conf or {}).items() if k in DEFAULT_CONF})
    return conf


def load_campplus(model_dir: str | Path, device: str | torch.device = "cpu") -> CAMPPlus:
    """Build ``CAMPPlus`` from a FunASR model folder, load its checkpoint strictly, eval mode."""
    md = open_model_dir(model_dir)
    if md.model_class != "CAMPPlus":
        raise ModelError(md.path, f"expected a CAM++ (CAMPPlus) model folder, found {md.model_class}")
    try:
        with no_random_init():  # every weight comes from the checkpoint (strict load below)
            model = CAMPPlus(**campplus_config(md.config.get("model_conf")))
    except (TypeError, ValueError) as e:
        raise ModelError(md.path, f"bad CAM++ config: {e}") from e
    load_state_dict_strict(model, md.state_dict(), md.checkpoint)
    return model.to(device).eval()
