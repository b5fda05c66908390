"""Stage 4: drops too short, too long, unencodably short and empty-text utterances, reporting each one.

Example:
    python -m espnet_trinet.bin.filter_datadir --in_dir dump/raw/train --out_dir dump/raw/train_filtered \
        --min_sec 0.3 --max_sec 20
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.data.datadir import DataDirError, filter_data_dir


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Writes <out_dir> without unusable utterances, <out_dir>/dropped.tsv "
        "(utt_id, reason, detail) and <out_dir>/excluded.tsv (the rows of <in_dir>/excluded.tsv, then the dropped "
        "utterances with their source files); counts per reason go to the log.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--in_dir", required=True, help="formatted data dir (with utt2num_samples)")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--min_sec", type=float, default=0.3)
    parser.add_argument("--max_sec", type=float, default=20.0)
    parser.add_argument("--fs", type=int, default=16000, help="rate utt2num_samples counts in")
    parser.add_argument("--keep_empty_text", action="store_true", help="keep utterances with empty text")
    parser.add_argument(
        "--max_chars_per_sec",
        type=float,
        default=None,
        help="drop utterances with more transcript characters per second (CTC feasibility)",
    )
    parser.add_argument(
        "--min_encodable_sec",
        type=float,
        default=None,
        help="drop utterances shorter than the models can encode (python -m espnet_trinet.bin.min_input_length); "
        "applies to test sets, whose --min_sec is 0",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    try:
        report = filter_data_dir(
            args.in_dir,
            args.out_dir,
            args.min_sec,
            args.max_sec,
            args.fs,
            drop_empty_text=not args.keep_empty_text,
            max_chars_per_sec=args.max_chars_per_sec,
            min_encodable_sec=args.min_encodable_sec,
        )
    except (FileNotFoundError, DataDirError) as err:
        print(f"filter_datadir: {err}", file=sys.stderr)
        return 1
    if report.num_kept == 0:
        print(
            f"filter_datadir: every utterance of {args.in_dir} was dropped; see {args.out_dir}/dropped.tsv",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
