"""Post-processing of recognition results: token -> text and BiCif character timestamps."""

from funasr_lite.postprocess.text import TextResult, ids_to_tokens, tokens_to_text
from funasr_lite.postprocess.timestamps import token_timestamps, ts_prediction_lfr6_standard

__all__ = ["TextResult", "ids_to_tokens", "token_timestamps", "tokens_to_text", "ts_prediction_lfr6_standard"]
