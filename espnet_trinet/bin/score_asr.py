#!/usr/bin/env python3
"""Score decoded text against a reference: WER and CER (ESPnet's score_{wer,cer} layout).

Example:
    python -m espnet_trinet.bin.score_asr --ref dump/raw/test/text \\
        --hyp exp/asr_trinet/decode_test/test/text --output_dir exp/asr_trinet/decode_test/test
"""

import argparse
import logging
import sys
from pathlib import Path

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.scoring.score_set import ScoringError, score_set


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", required=True, type=Path, help="reference Kaldi text")
    parser.add_argument("--hyp", required=True, type=Path, help="hypothesis Kaldi text")
    parser.add_argument("--output_dir", required=True, type=Path, help="score_wer/ and score_cer/ go here")
    return parser


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    try:
        summary = score_set(args.ref, args.hyp, args.output_dir)
    except (ScoringError, FileNotFoundError) as err:
        logging.error("%s", err)
        return 1
    for unit, s in summary.items():
        logging.info(
            "%s %s: %.2f %% (%d sub, %d del, %d ins of %d; %d hypotheses missing)",
            args.hyp, unit.upper(), s["error_rate"], s["sub"], s["dele"], s["ins"], s["ref"], s["missing_hyps"],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
