"""Stage 3: dumps a data dir to uniform 16 kHz mono 16-bit audio with utt2num_samples.

Example:
    python -m espnet_trinet.bin.format_datadir --in_dir data/train --out_dir dump/raw/train --nj 4
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.data.datadir import DataDirError
from espnet_trinet.data.format_audio import format_data_dir


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Converts every wav.scp entry (file, 'cmd |' pipe, ark:offset) to one rate, mono, 16-bit; "
        "unusable utterances are listed with their source and reason in <out_dir>/excluded.tsv (after those of "
        "<in_dir>/excluded.tsv) instead of failing the stage. "
        "Transcripts are upper-cased, punctuation removed, accented letters transliterated, other non-ASCII "
        "removed. Resumable; <out_dir>/.done marks a finished stage.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--in_dir", required=True, help="data dir with wav.scp, text, utt2spk")
    parser.add_argument("--out_dir", required=True, help="output data dir; audio under <out_dir>/data/")
    parser.add_argument("--fs", type=int, default=16000, help="target sampling rate in Hz")
    parser.add_argument("--audio_format", choices=["flac", "wav"], default="flac")
    parser.add_argument("--nj", type=int, default=1, help="parallel worker processes")
    parser.add_argument("--overwrite", action="store_true", help="redo even if done before")
    parser.add_argument(
        "--max_excluded_fraction",
        type=float,
        default=0.5,
        help="fail (without the done marker) when a larger fraction of the utterances is excluded",
    )
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        format_data_dir(
            args.in_dir,
            args.out_dir,
            args.fs,
            args.audio_format,
            args.nj,
            args.overwrite,
            args.max_excluded_fraction,
        )
    except (FileNotFoundError, DataDirError, ValueError) as err:
        print(f"format_datadir: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
