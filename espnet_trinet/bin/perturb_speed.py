"""Stage 2: speed perturbation of a training data dir (ids ``sp0.9-<utt>``, as ESPnet).

Example:
    python -m espnet_trinet.bin.perturb_speed --in_dir data/train --out_dir data/train_sp --factors 0.9 1.0 1.1
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.data.datadir import DataDirError
from espnet_trinet.data.speed_perturb import perturb_speed


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Union of speed-perturbed copies of a data dir; factor 1.0 keeps the original ids. "
        "By default wav.scp gets sox pipes (resolved by format_datadir); --write_files writes FLAC files.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--in_dir", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--factors", type=float, nargs="+", default=[0.9, 1.0, 1.1])
    parser.add_argument("--write_files", action="store_true", help="write audio under <out_dir>/data/")
    parser.add_argument("--nj", type=int, default=1, help="parallel processes with --write_files")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    if any(f <= 0 for f in args.factors):
        print("perturb_speed: factors must be positive", file=sys.stderr)
        return 1
    try:
        perturb_speed(args.in_dir, args.out_dir, args.factors, args.write_files, args.nj)
    except (FileNotFoundError, DataDirError, ValueError) as err:
        print(f"perturb_speed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
