"""Regenerate every golden fixture under tests/fixtures/ with the reference FunASR 1.4.16.

    bash tools/setup_funasr_venv.sh                       # once (idempotent)
    tools/funasr_venv/bin/python tools/make_fixtures/make_all.py

Deterministic: fixed seeds, fixed zip timestamps in the .npz files and a zeroed
torch serialization_id in the checkpoints, so a re-run reproduces identical bytes.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import make_auto_model  # noqa: E402
import make_campplus  # noqa: E402
import make_cluster  # noqa: E402
import make_export  # noqa: E402
import make_export_vad_punc_spk  # noqa: E402
import make_frontend  # noqa: E402
import make_keys  # noqa: E402
import make_models  # noqa: E402
import make_paraformer  # noqa: E402
import make_paraformer_timestamps  # noqa: E402
import make_pipeline  # noqa: E402
import make_pipeline_spk  # noqa: E402
import make_punc  # noqa: E402
import make_resample  # noqa: E402
import make_seaco  # noqa: E402
import make_specaug  # noqa: E402
import make_train_loss  # noqa: E402
import make_vad  # noqa: E402


def main():
    import funasr
    import torch
    import torchaudio

    print(f"funasr {funasr.__version__}, torch {torch.__version__}, torchaudio {torchaudio.__version__}")
    make_frontend.main()  # must run first: writes am_560.mvn / am_400.mvn used by the models
    make_models.main()
    make_keys.main()
    make_paraformer.main()  # needs the paraformer_tiny / bicif_paraformer_tiny folders
    make_paraformer_timestamps.main()  # needs paraformer_tiny
    make_seaco.main()  # builds seaco_paraformer_tiny (needs am_560.mvn); the Paraformer clips
    make_punc.main()  # needs ct_transformer_tiny; builds ct_transformer_cnen_tiny
    make_vad.main()  # needs the real checkpoint: bash tools/fetch_fsmn_vad.sh
    make_pipeline.main()  # needs the VAD checkpoint and the tiny ASR/punctuation folders
    make_campplus.main()  # needs the VAD checkpoint and campplus_tiny
    make_cluster.main()
    make_pipeline_spk.main()  # needs the VAD checkpoint and the tiny ASR/punctuation/CAM++ folders
    make_train_loss.main()  # needs paraformer_tiny / bicif_paraformer_tiny
    make_specaug.main()
    make_auto_model.main()  # needs ct_transformer_tiny and campplus_tiny
    make_export.main()  # needs the tiny Paraformer folders and funasr-onnx in the venv
    make_export_vad_punc_spk.main()  # needs the VAD checkpoint, the tiny folders and funasr-onnx
    make_resample.main()  # needs the VAD checkpoint; builds models/fsmn_vad_8k_tiny (espeak-ng, sox)


if __name__ == "__main__":
    main()
