"""Data handling: Kaldi data-dir lists (``kaldi_lists``) and data-dir checks (``check``).

Corpus generation and preparation are recipe code: ``egs/synth/local``, ``egs/aishell/local``.
"""
