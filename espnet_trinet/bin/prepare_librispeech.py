"""Stage 1: LibriSpeech-layout subsets -> Kaldi data dirs ``<output_dir>/<subset with - as _>``,
and optionally the corpus's LM text -> ``data/local/other_text/text``.

Example:
    python -m espnet_trinet.bin.prepare_librispeech --corpus_dir /data/LibriSpeech \
        --subsets train-clean-100 dev-clean test-clean --output_dir data \
        --lm_text_output data/local/other_text/text
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.data.datadir import DataDirError
from espnet_trinet.data.librispeech import data_dir_name, prepare_librispeech, prepare_lm_text


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Kaldi data dirs (wav.scp with FLAC paths, text, utt2spk, spk2utt, spk2gender) from a corpus "
        "in LibriSpeech's layout; each is validated before it is written. Utterances that cannot be used (no "
        "transcript line, no FLAC, conflicting duplicate ids, ...) are left out and listed with file:line and "
        "reason in <data dir>/excluded.tsv; counts go to the log.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--corpus_dir", required=True, help="folder holding the subsets and SPEAKERS.TXT (or its parent)"
    )
    parser.add_argument("--subsets", nargs="+", required=True, help="e.g. train-clean-100 dev-clean, or train dev test")
    parser.add_argument(
        "--output_dir", default="data", help="data dirs go to <output_dir>/<subset with - replaced by _>"
    )
    parser.add_argument(
        "--speaker_level",
        choices=["chapter", "reader"],
        default="chapter",
        help="speaker id: reader-chapter (as Kaldi) or reader",
    )
    parser.add_argument(
        "--max_excluded_fraction",
        type=float,
        default=0.5,
        help="fail when a larger fraction of a subset is excluded (likely the wrong folder or a broken copy)",
    )
    parser.add_argument(
        "--lm_text_output",
        help="also write the corpus's LM text (librispeech-lm-norm.txt[.gz] in corpus_dir or its parent) to "
        "this file as librispeech_lm_norm_<line:08d> <normalised sentence>, e.g. data/local/other_text/text; "
        "when there is none, a warning says where to put it",
    )
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.verbose)
    failed = 0
    for subset in args.subsets:  # every subset, so that one run shows all the problems
        try:
            prepare_librispeech(
                args.corpus_dir,
                subset,
                Path(args.output_dir) / data_dir_name(subset),
                args.speaker_level,
                args.max_excluded_fraction,
            )
        except (FileNotFoundError, DataDirError) as err:
            print(f"prepare_librispeech: {err}", file=sys.stderr)
            failed += 1
    if args.lm_text_output:
        prepare_lm_text(args.corpus_dir, args.lm_text_output)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
