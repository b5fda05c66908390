#!/usr/bin/env python3
"""Done markers that record what a recipe stage's output was made with.

    python -m espnet_trinet.bin.stage_marker check --marker exp/ssl_data2vec/.done \\
        --what "pretraining of data2vec" --clear exp/ssl_data2vec --fix "--ssl_tag <tag>" \\
        --file config=conf/pretrain_data2vec_tiny.yaml --option ssl_args="--max_epoch 1" \\
        --data train=dump/raw/train --keys frontend=conf/x.yaml:frontend,frontend_conf
    exit status: 0 run the stage, 10 skip it (done with the same settings), 1 stop (messages say why)

    python -m espnet_trinet.bin.stage_marker done --marker exp/ssl_data2vec/.done
"""

import argparse
import sys
from pathlib import Path

from espnet_trinet.recipe.stage_check import RUN, SKIP, check, mark_done
from espnet_trinet.recipe.stage_settings import read_setting

EXIT_RUN, EXIT_SKIP, EXIT_STOP = 0, 10, 1


def name_value(text: str):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"want NAME=VALUE, got {text!r}")
    return name, value


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="run, skip or stop?")
    c.add_argument("--marker", required=True, type=Path)
    c.add_argument("--what", required=True)
    c.add_argument("--force", default="false", choices=["true", "false"])
    c.add_argument("--clear", action="append", default=[], type=Path, help="stale output removed under --force")
    c.add_argument("--fix", default="", help="how to give the run its own directory instead")
    for kind in ("option", "file", "keys", "data"):
        c.add_argument(f"--{kind}", action="append", default=[], type=name_value, metavar="NAME=VALUE")
    d = sub.add_parser("done", help="the stage finished")
    d.add_argument("--marker", required=True, type=Path)
    return parser


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    if args.command == "done":
        mark_done(args.marker)
        return 0
    settings, names = [], set()
    # Read in the order given; a name twice is a recipe bug.
    for kind in ("option", "file", "keys", "data"):
        for name, source in getattr(args, kind):
            if name in names:
                print(f"stage_marker: setting {name} given twice", file=sys.stderr)
                return EXIT_STOP
            names.add(name)
            try:
                settings.append(read_setting(name, kind, source))
            except (OSError, ValueError) as e:
                print(f"{args.what}: cannot read its input {name}: {e}", file=sys.stderr)
                return EXIT_STOP
    decision = check(args.marker, args.what, settings, force=args.force == "true", clear=args.clear, fix=args.fix)
    for line in decision.messages:
        print(line)
    return {RUN: EXIT_RUN, SKIP: EXIT_SKIP}.get(decision.action, EXIT_STOP)


if __name__ == "__main__":
    sys.exit(main())
