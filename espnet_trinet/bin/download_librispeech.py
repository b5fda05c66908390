"""Downloads and extracts LibriSpeech parts from OpenSLR (md5-checked, resumable).

Example:
    python -m espnet_trinet.bin.download_librispeech --data_dir downloads --parts dev-clean train-clean-100
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.data.download_librispeech import LIBRISPEECH_MD5, OPENSLR_URL, DownloadError, download_librispeech


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Fetches LibriSpeech archives into <data_dir> and extracts them to <data_dir>/LibriSpeech/. "
        "Without network it fails at once: then pass an existing LibriSpeech folder to the recipe "
        "(--librispeech_dir) instead.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data_dir", required=True, help="where archives are stored and extracted")
    parser.add_argument(
        "--parts",
        nargs="+",
        required=True,
        choices=sorted(LIBRISPEECH_MD5),
        metavar="PART",
        help=f"parts to fetch: {' '.join(sorted(LIBRISPEECH_MD5))}",
    )
    parser.add_argument("--base_url", default=OPENSLR_URL, help="OpenSLR resource 12 or a mirror of it")
    parser.add_argument("--timeout", type=float, default=10.0, help="connection timeout in seconds")
    parser.add_argument("--remove_archives", action="store_true", help="delete each .tar.gz once extracted")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    try:
        download_librispeech(
            args.data_dir, args.parts, args.base_url, timeout=args.timeout, keep_archives=not args.remove_archives
        )
    except DownloadError as err:
        print(f"download_librispeech: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
