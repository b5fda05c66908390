#!/usr/bin/env python3
"""Before ``--resume true``: repair what a kill during ESPnet's end-of-epoch checkpoint writes
leaves behind (see espnet_trinet.utils.checkpoint_repair). Prints nothing when there is nothing to do.

Example (trinet.sh and asr.sh run it before every training):
    python -m espnet_trinet.bin.repair_checkpoint exp/ssl_trinet
"""

import argparse
import logging
import sys
from pathlib import Path

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.utils.checkpoint_repair import repair_for_resume


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exp_dir", type=Path, help="the training's --output_dir")
    return parser


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    for message in repair_for_resume(args.exp_dir):
        logging.warning("%s", message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
