"""Kaldi data-dir tools without Kaldi.

Examples:
    python -m espnet_trinet.bin.datadir validate data/train
    python -m espnet_trinet.bin.datadir fix data/train
    python -m espnet_trinet.bin.datadir split data/train 4 [--per_utt]
    python -m espnet_trinet.bin.datadir filter --in_dir data/train --out_dir data/train_10 --num_random 10
    python -m espnet_trinet.bin.datadir combine data/train_all data/a data/b
    python -m espnet_trinet.bin.datadir spk2utt data/train/utt2spk data/train/spk2utt
"""

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.data.datadir import (
    DataDirError,
    combine_data_dirs,
    filter_data_dir,
    fix_data_dir,
    read_map,
    spk2utt_to_utt2spk,
    split_data_dir,
    subset_data_dir,
    utt2spk_to_spk2utt,
    validate_data_dir,
    write_map,
    write_spk2utt,
)
from espnet_trinet.data.datadir.subset import read_id_list


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Kaldi data-dir tools (validate, fix, split, filter, combine, " "spk2utt, utt2spk)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a data dir; every problem is printed as file:line: message")
    p.add_argument("data_dir")
    p.add_argument("--no_check_audio", action="store_true", help="do not check that audio files exist")

    p = sub.add_parser("fix", help="sort, de-duplicate, keep utterances present in every file, regenerate spk2utt")
    p.add_argument("data_dir")
    p.add_argument("--out_dir", help="write here instead of in place (in place keeps a .backup/)")

    p = sub.add_parser("split", help="write <data_dir>/split<N>/{1..N} (speakers kept whole) or split<N>utt")
    p.add_argument("data_dir")
    p.add_argument("num_parts", type=int)
    p.add_argument("--per_utt", action="store_true", help="split by utterance")

    p = sub.add_parser("filter", help="subset by ids, number, duration or empty text (criteria combine)")
    p.add_argument("--in_dir", required=True)
    p.add_argument("--out_dir", required=True)
    p.add_argument("--utt_list", help="file of utterance ids to keep")
    p.add_argument("--spk_list", help="file of speaker ids to keep")
    p.add_argument("--first", type=int, help="keep the first N utterances")
    p.add_argument("--num_random", type=int, help="keep N random utterances")
    p.add_argument("--seed", type=int, default=0, help="seed for --num_random")
    p.add_argument("--min_sec", type=float, help="drop shorter utterances (needs utt2num_samples)")
    p.add_argument("--max_sec", type=float, help="drop longer utterances (needs utt2num_samples)")
    p.add_argument("--fs", type=int, default=16000, help="rate utt2num_samples counts in")
    p.add_argument("--drop_empty_text", action="store_true", help="drop utterances with empty text")

    p = sub.add_parser("combine", help="combine data dirs; a duplicate utterance id is an error")
    p.add_argument("out_dir")
    p.add_argument("data_dirs", nargs="+")

    for name, other in (("spk2utt", "utt2spk"), ("utt2spk", "spk2utt")):
        p = sub.add_parser(name, help=f"{other} -> {name}")
        p.add_argument("input", help=f"{other} file ('-' for stdin)")
        p.add_argument("output", help=f"{name} file ('-' for stdout)")
    return parser


def _read_pairs(path: str) -> dict:
    if path != "-":
        return read_map(path)
    return dict((line.split(maxsplit=1) + [""])[:2] for line in sys.stdin if line.strip())


def _write_pairs(path: str, mapping: dict) -> None:
    if path == "-":
        for key in sorted(mapping):
            print(f"{key} {mapping[key]}")
    else:
        write_map(path, mapping)


def _filter(args) -> None:
    by_ids = any(x is not None for x in (args.utt_list, args.spk_list, args.first, args.num_random))
    by_content = args.min_sec is not None or args.max_sec is not None or args.drop_empty_text
    if not (by_ids or by_content):
        raise SystemExit("datadir filter: give at least one criterion")
    source = args.in_dir
    with tempfile.TemporaryDirectory() as tmp:
        if by_ids:
            target = Path(tmp) / "subset" if by_content else args.out_dir
            subset_data_dir(
                args.in_dir,
                target,
                utt_ids=read_id_list(args.utt_list) if args.utt_list else None,
                spk_ids=read_id_list(args.spk_list) if args.spk_list else None,
                first=args.first,
                num_random=args.num_random,
                seed=args.seed,
            )
            source = target
        if by_content:
            filter_data_dir(source, args.out_dir, args.min_sec, args.max_sec, args.fs, args.drop_empty_text)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    try:
        if args.command == "validate":
            summary = validate_data_dir(args.data_dir, check_audio=not args.no_check_audio)
            print(
                f"{args.data_dir}: OK ({summary.num_utts} utterances, {summary.num_speakers} speakers; "
                f"{' '.join(summary.files)})"
            )
        elif args.command == "fix":
            report = fix_data_dir(args.data_dir, args.out_dir)
            for utt, reason in sorted(report.removed.items()):
                print(f"removed {utt}: {reason}", file=sys.stderr)
        elif args.command == "split":
            for part in split_data_dir(args.data_dir, args.num_parts, args.per_utt):
                print(part)
        elif args.command == "filter":
            _filter(args)
        elif args.command == "combine":
            combine_data_dirs(args.out_dir, args.data_dirs)
        elif args.command == "spk2utt":
            spk2utt = utt2spk_to_spk2utt(_read_pairs(args.input))
            if args.output == "-":
                _write_pairs("-", {s: " ".join(u) for s, u in spk2utt.items()})
            else:
                write_spk2utt(args.output, spk2utt)
        elif args.command == "utt2spk":
            spk2utt = {s: u.split() for s, u in _read_pairs(args.input).items()}
            _write_pairs(args.output, spk2utt_to_utt2spk(spk2utt))
    except (DataDirError, FileNotFoundError, ValueError) as err:
        print(f"datadir {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
