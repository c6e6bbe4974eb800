"""Speaker diarization: FunASR's ``sv_chunk`` chunking (``chunks``), batched CAM++ embeddings
(``embed``), clustering (``cluster``), speaker turns (``postprocess``), assigning speakers to
characters and sentences (``assign``), RTTM files (``rttm``), DER (``der``) and the whole
recording (``diarize``).

Import from the module that owns a name (``from funasr_lite.diar.chunks import sv_chunk``): this
package imports nothing, so ``import funasr_lite.diar.rttm`` does not import torch.
"""
