#!/usr/bin/env python3
"""Write a recipe's RESULTS.md from the scored decode dirs of its models.

Example:
    python -m espnet_trinet.bin.make_results --output RESULTS.md --test_sets "test" \\
        --model "data2vec=exp/asr_data2vec/decode_greedy" --model "TriNet=exp/asr_trinet/decode_greedy" \\
        --command "./run.sh --stage 1 --stop_stage 12"
"""

import argparse
import sys
from pathlib import Path

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.scoring.results_table import write_results


def model_pair(text: str):
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--model wants NAME=DECODE_DIR, got {text!r}")
    return name, Path(path)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--test_sets", required=True, help="space-separated test sets")
    parser.add_argument("--model", action="append", type=model_pair, required=True, help="NAME=DECODE_DIR")
    parser.add_argument("--command", required=True, help="the command that made the numbers")
    parser.add_argument("--title", default="Results")
    parser.add_argument("--note", action="append", default=[], help="a line under the command (repeatable)")
    return parser


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    text = write_results(args.output, args.model, args.test_sets.split(), args.command, args.title, args.note)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
