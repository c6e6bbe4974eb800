"""Data handling: Kaldi data-dir lists (``kaldi_lists``) and corpus tools."""
