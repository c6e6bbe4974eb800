"""CAM++ speaker-embedding training: random crops (dataset), AAM-softmax head, trainer + export."""

from funasr_lite.train.spk.aamsoftmax import AAMSoftmax
from funasr_lite.train.spk.dataset import SpeakerCrops, crop_features

__all__ = ["AAMSoftmax", "SpeakerCrops", "crop_features"]
