"""Check that every entry of a wav.scp decodes, and report rates and durations.

    python -m funasr_lite.bin.check_audio --wav_scp data/train/wav.scp [--segments data/train/segments]

Bad items (missing, empty, corrupt, NaN...) are listed one per line with the reason; the
exit code is 1 if there were any, so a recipe stops before a long training run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter

from tqdm import tqdm

from funasr_lite.data.kaldi_lists import read_scp
from funasr_lite.errors import InputError
from funasr_lite.frontend.audio import load_wav_scp

log = logging.getLogger("check_audio")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wav_scp", required=True)
    p.add_argument("--segments", default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        total = len(read_scp(args.segments or args.wav_scp))
        items = load_wav_scp(args.wav_scp, segments=args.segments)
        rates: Counter[int] = Counter()
        seconds, bad = 0.0, []
        for key, result in tqdm(items, total=total, desc="check audio"):
            if isinstance(result, InputError):
                bad.append(str(result))
                continue
            rates[result.sample_rate_orig] += 1
            seconds += result.duration_s
    except InputError as e:  # the list itself is unreadable
        print(f"error: {e}", file=sys.stderr)
        return 1
    log.info("%d items, %.1f s of audio (%.2f h)", total - len(bad), seconds, seconds / 3600)
    log.info("original sample rates: %s", ", ".join(f"{r} Hz x{n}" for r, n in sorted(rates.items())) or "none")
    for line in bad:
        print(f"bad audio: {line}", file=sys.stderr)
    if bad:
        log.error("%d of %d items are bad (listed above)", len(bad), total)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
