"""ASR training: FunASR Paraformer / BiCif-Paraformer training losses (``forward`` of
``funasr/models/paraformer/model.py`` and ``funasr/models/bicif_paraformer/model.py``)."""

from funasr_lite.train.asr.losses import label_smoothing_loss, mae_loss, th_accuracy
from funasr_lite.train.asr.paraformer_loss import glm_sampler_mask, paraformer_training_loss

__all__ = ["glm_sampler_mask", "label_smoothing_loss", "mae_loss", "paraformer_training_loss", "th_accuracy"]
