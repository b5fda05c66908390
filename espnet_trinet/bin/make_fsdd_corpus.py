"""Makes connected-digit utterances from the Free Spoken Digit Dataset in LibriSpeech's layout.

Example:
    python -m espnet_trinet.bin.make_fsdd_corpus --fsdd_dir ../shared/data/fsdd --output_dir downloads/fsdd
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.data.fsdd import make_fsdd_corpus


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Connected digits from FSDD (CC BY-SA 4.0): subsets train (takes 10-49), dev (5-9), "
        "test (0-4), 16 kHz FLAC. Resumable; a finished corpus is skipped.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--fsdd_dir", default="../shared/data/fsdd", help="FSDD folder holding recordings/")
    parser.add_argument("--output_dir", required=True, help="corpus root")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min_digits", type=int, default=2)
    parser.add_argument("--max_digits", type=int, default=5)
    parser.add_argument("--nj", type=int, default=1, help="parallel processes")
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        make_fsdd_corpus(args.fsdd_dir, args.output_dir, args.seed, args.min_digits, args.max_digits, args.nj)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"make_fsdd_corpus: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
