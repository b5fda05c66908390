"""Kaldi data dir from Debian's pocketsphinx-testdata (10 labelled utterances of real speech).

Example:
    python -m espnet_trinet.bin.prepare_pocketsphinx_testdata --output_dir data/pocketsphinx
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.data.pocketsphinx_testdata import DEFAULT_ROOT, prepare_pocketsphinx_testdata


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Data dir of the librivox and cards sets of pocketsphinx-testdata (16 kHz WAV).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--output_dir", required=True, help="the data dir to write")
    parser.add_argument("--data_root", default=str(DEFAULT_ROOT), help="pocketsphinx test data folder")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    try:
        prepare_pocketsphinx_testdata(args.output_dir, args.data_root)
    except FileNotFoundError as err:
        print(f"prepare_pocketsphinx_testdata: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
