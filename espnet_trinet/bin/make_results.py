#!/usr/bin/env python3
"""Write a recipe's RESULTS.md from the scored decode dirs of its models.

Example:
    python -m espnet_trinet.bin.make_results --output exp/RESULTS.md --test_sets "test" \\
        --model "data2vec=exp/asr_data2vec" --model "TriNet=exp/asr_trinet" \\
        --decoding "greedy CTC=decode_ctc_greedy_asr_model_valid.cer_ctc.ave" \\
        --decoding "CTC + LM=decode_ctc_lm_lm_train_lm_en_char_valid.loss.ave_asr_model_valid.cer_ctc.ave" \\
        --command "./run.sh --stage 1 --stop_stage 12"
"""

import argparse
import sys
from pathlib import Path

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.scoring.results_table import write_results


def name_pair(text: str):
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"want NAME=VALUE, got {text!r}")
    return name, value


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--test_sets", required=True, help="space-separated test sets")
    parser.add_argument("--model", action="append", type=name_pair, required=True, help="NAME=ASR_EXP_DIR (a row)")
    parser.add_argument("--decoding", action="append", type=name_pair, required=True,
                        help="NAME=DECODE_DIR_NAME (a column per test set), read in every ASR_EXP_DIR")
    parser.add_argument("--command", required=True, help="the command that made the numbers")
    parser.add_argument("--title", default="Results")
    parser.add_argument("--note", action="append", default=[], help="a line under the command (repeatable)")
    return parser


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    models = [(name, Path(path)) for name, path in args.model]
    text = write_results(args.output, models, args.decoding, args.test_sets.split(), args.command, args.title,
                         args.note)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
