"""Stage 1: LibriSpeech-layout subsets -> Kaldi data dirs ``<output_dir>/<subset with - as _>``.

Example:
    python -m espnet_trinet.bin.prepare_librispeech --corpus_dir /data/LibriSpeech \
        --subsets train-clean-100 dev-clean test-clean --output_dir data
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_trinet.data.cli_logging import setup_logging
from espnet_trinet.data.datadir import DataDirError
from espnet_trinet.data.librispeech import data_dir_name, prepare_librispeech


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Kaldi data dirs (wav.scp with FLAC paths, text, utt2spk, spk2utt, spk2gender) from a corpus "
        "in LibriSpeech's layout; each is validated before it is written.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--corpus_dir", required=True, help="folder holding the subsets and SPEAKERS.TXT (or its parent)"
    )
    parser.add_argument("--subsets", nargs="+", required=True, help="e.g. train-clean-100 dev-clean, or train dev test")
    parser.add_argument(
        "--output_dir", default="data", help="data dirs go to <output_dir>/<subset with - replaced by _>"
    )
    parser.add_argument(
        "--speaker_level",
        choices=["chapter", "reader"],
        default="chapter",
        help="speaker id: reader-chapter (as Kaldi) or reader",
    )
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.verbose)
    for subset in args.subsets:
        try:
            prepare_librispeech(
                args.corpus_dir, subset, Path(args.output_dir) / data_dir_name(subset), args.speaker_level
            )
        except (FileNotFoundError, DataDirError) as err:
            print(f"prepare_librispeech: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
