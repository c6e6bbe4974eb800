"""Speaker diarization of recordings: VAD -> 1.5 s chunks -> CAM++ embeddings -> clustering ->
FunASR post-processing -> RTTM (``egs/synth/spk`` stage 3).

    python -m funasr_lite.bin.diarize --wav_scp data/meetings/wav.scp --spk_model exp/campplus/model \\
        --vad_model ../../../tools/fsmn_vad --out_dir exp/campplus/diar_meetings

VAD: ``--vad_model`` (an FSMN-VAD folder, FunASR's segments) or ``--oracle_vad REF.rttm`` (speech
regions = the union of the reference turns; measures the speaker part alone). Speaker count:
estimated (eigengap + merge, FunASR's defaults) unless ``--num_speakers_file`` (Kaldi
``reco2num_spk``) gives it. Chunking, embeddings, clustering and post-processing are
``funasr_lite.diar.diarize`` (FunASR 1.4.16's ``sv_chunk``, ``ClusterBackend``, ``postprocess``), the
same function ``LongAudioPipeline`` uses for speakers on transcripts.

Writes ``<out_dir>/rttm/<rec>.rttm``, the merged ``<out_dir>/hyp.rttm`` (sorted by recording) and
``<out_dir>/diarize_info.json`` (settings, chunks and speakers per recording).
Exit status: 0 ok, 1 a recording or model failed (others are still written), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

from funasr_lite.data.kaldi_lists import read_scp
from funasr_lite.diar.diarize import diarize
from funasr_lite.diar.rttm import read_rttm, rttm_text
from funasr_lite.errors import InputError, ModelError
from funasr_lite.fileio import write_text_atomic
from funasr_lite.frontend.audio import DEFAULT_RESAMPLER, RESAMPLERS, TARGET_SR, load_audio

log = logging.getLogger("diarize")


def oracle_segments_ms(turns: list[tuple[float, float, str]]) -> list[list[int]]:
    """Union of reference turns as ``[[start_ms, end_ms], ...]`` (touching/overlapping merged)."""
    out: list[list[int]] = []
    for s, e, _ in sorted(turns):
        a, b = int(round(s * 1000)), int(round(e * 1000))
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="diarize", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--wav_scp", required=True, help="recording id -> audio")
    p.add_argument("--spk_model", required=True, help="CAM++ model folder (campplus_cn_common.bin, config.yaml)")
    p.add_argument("--out_dir", required=True, help="folder for rttm/<rec>.rttm, hyp.rttm and diarize_info.json")
    vad = p.add_mutually_exclusive_group(required=True)
    vad.add_argument("--vad_model", help="FSMN-VAD model folder")
    vad.add_argument("--oracle_vad", help="reference RTTM whose turns give the speech regions")
    p.add_argument("--num_speakers_file", default=None, help="Kaldi reco2num_spk: oracle speaker counts")
    p.add_argument(
        "--max_speakers", type=int, default=15, help="most speakers to estimate per recording (default: %(default)s)"
    )
    p.add_argument("--merge_thr", type=float, default=0.78, help="cosine threshold of the centroid merge")
    p.add_argument("--seed", type=int, default=0, help="k-means seed (0 = FunASR's first file)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--batch_size", type=int, default=64, help="chunks per CAM++ forward")
    p.add_argument(
        "--resampler",
        default=DEFAULT_RESAMPLER,
        choices=RESAMPLERS,
        help="for audio at other rates: funasr (torchaudio's sinc resampler, as FunASR) or soxr (default: %(default)s)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    from funasr_lite.devices import resolve_device  # noqa: PLC0415
    from funasr_lite.models.campplus import load_campplus

    try:
        args.device = resolve_device(args.device, "--device")
        wavs = read_scp(args.wav_scp)
        num_spk = {k: int(v) for k, v in read_scp(args.num_speakers_file).items()} if args.num_speakers_file else {}
        oracle = read_rttm(args.oracle_vad) if args.oracle_vad else None
        model = load_campplus(args.spk_model, args.device)
        vad = None
        if args.vad_model:
            from funasr_lite.models.fsmn_vad import load_fsmn_vad

            vad = load_fsmn_vad(args.vad_model, args.device)
    except (InputError, ModelError, ValueError) as e:
        print(f"diarize: {e}", file=sys.stderr)
        return 1
    out = Path(args.out_dir)
    (out / "rttm").mkdir(parents=True, exist_ok=True)
    info: dict = {
        "spk_model": args.spk_model,
        "vad": args.vad_model or f"oracle:{args.oracle_vad}",
        "oracle_num_speakers": bool(num_spk),
        "merge_thr": args.merge_thr,
        "recordings": {},
    }
    failed = []
    texts = []
    for rec in sorted(wavs, key=str.encode):
        t0 = time.time()
        try:
            vad_rate = () if vad is None or vad.sample_rate == TARGET_SR else (vad.sample_rate,)
            audio = load_audio(wavs[rec], key=rec, also_at=vad_rate, resampler=args.resampler)
            wave = audio.waveform
            if oracle is not None:
                segs = oracle_segments_ms(oracle.get(rec, []))
            else:
                with torch.no_grad():
                    segs = vad.segments(audio.at(vad.sample_rate))  # the VAD's own rate, as FunASR
            diar = diarize(
                model,
                wave,
                segs,
                num_spk.get(rec),
                max_speakers=args.max_speakers,
                merge_thr=args.merge_thr,
                seed=args.seed,
                batch_size=args.batch_size,
                count_may_exceed=True,
            )
            turns = diar.turns
        except (InputError, ValueError, RuntimeError) as e:
            log.error("%s: %s", rec, e)
            failed.append(rec)
            continue
        text = rttm_text(rec, turns, speaker_prefix="spk")
        write_text_atomic(out / "rttm" / f"{rec}.rttm", text)
        texts.append(text)
        info["recordings"][rec] = {
            "vad_segments": len(segs),
            "chunks": diar.chunks,
            "speakers": len({t[2] for t in turns}),
            "seconds": round(time.time() - t0, 2),
        }
        log.info(
            "%s: %d VAD segments, %d chunks, %d speakers (%.1f s)",
            rec,
            len(segs),
            diar.chunks,
            info["recordings"][rec]["speakers"],
            time.time() - t0,
        )
    write_text_atomic(out / "hyp.rttm", "".join(texts))
    info["failed"] = failed
    write_text_atomic(out / "diarize_info.json", json.dumps(info, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
