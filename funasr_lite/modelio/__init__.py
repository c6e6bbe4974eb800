"""Reading FunASR/ModelScope model folders: config, token list, checkpoint, model class."""

from funasr_lite.modelio.checkpoint import load_checkpoint, load_state_dict_strict
from funasr_lite.modelio.model_dir import ModelDir, open_model_dir
from funasr_lite.modelio.tokens import read_token_list

__all__ = ["ModelDir", "open_model_dir", "load_checkpoint", "load_state_dict_strict", "read_token_list"]
