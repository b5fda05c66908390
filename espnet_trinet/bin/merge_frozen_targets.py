#!/usr/bin/env python3
"""Join frozen-target dumps of the parts of a split data dir (parallel dump jobs).

Example:
    python -m espnet_trinet.bin.merge_frozen_targets --output_dir dump/frozen_targets/train \\
        dump/frozen_targets/train/split4/{1,2,3,4}
"""

import argparse
import logging
import sys

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.teachers.offline_dump import merge_target_dumps


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", required=True, help="gets targets.scp and targets_info.yaml")
    parser.add_argument("parts", nargs="+", help="dump dirs of the parts, each with targets_info.yaml")
    return parser


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    try:
        info = merge_target_dumps(args.parts, args.output_dir)
    except (FileNotFoundError, ValueError) as err:
        logging.error("%s", err)
        return 1
    logging.info("%d utterances, %s targets of dim %d -> %s", info["num_utterances"], info["kind"],
                 info["output_dim"], args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
