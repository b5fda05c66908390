"""Makes the embedded synthetic corpus (espeak-ng speech, generated sentences) in LibriSpeech's layout,
with LM text (librispeech-lm-norm.txt) from the same grammar.

Example:
    python -m espnet_trinet.bin.make_synth_corpus --output_dir downloads/synth --nj 2
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.data.synth import SynthConfig, make_synth_corpus
from espnet_trinet.data.synth.espeak import EspeakError


def get_parser() -> argparse.ArgumentParser:
    defaults = SynthConfig()
    parser = argparse.ArgumentParser(
        description="Synthetic read-speech corpus in LibriSpeech's layout: subsets train, dev, test "
        "(dev/test voices and sentences unseen in train), optionally train_extra (more training speakers, "
        "in voices and sentences of no other subset), and LM text librispeech-lm-norm.txt in the format of "
        "LibriSpeech's LM corpus (no dev/test sentence in it). Resumable; a finished corpus is skipped.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--output_dir", required=True, help="corpus root (<output_dir>/train/<reader>/<chapter>/...)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--num_train_speakers", type=int, default=defaults.num_train_speakers)
    parser.add_argument("--num_dev_speakers", type=int, default=defaults.num_dev_speakers)
    parser.add_argument("--num_test_speakers", type=int, default=defaults.num_test_speakers)
    parser.add_argument("--utts_per_speaker", type=int, default=defaults.utts_per_speaker, help="per train speaker")
    parser.add_argument(
        "--eval_utts_per_speaker", type=int, default=defaults.eval_utts_per_speaker, help="per dev/test speaker"
    )
    parser.add_argument("--min_sec", type=float, default=defaults.min_sec, help="shortest utterance")
    parser.add_argument("--max_sec", type=float, default=defaults.max_sec, help="longest utterance")
    parser.add_argument(
        "--num_lm_sentences",
        type=int,
        default=defaults.num_lm_sentences,
        help="lines of the LM text librispeech-lm-norm.txt (text only, about a second per 20000)",
    )
    parser.add_argument(
        "--num_extra_train_speakers",
        type=int,
        default=defaults.num_extra_train_speakers,
        help="speakers of the optional subset train_extra (readers 4000..., utts_per_speaker each; voices of no other "
        "speaker): more unlabelled training speech, the other subsets and the LM text unchanged",
    )
    parser.add_argument("--nj", type=int, default=1, help="parallel synthesis processes")
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.verbose)
    config = SynthConfig(
        seed=args.seed,
        num_train_speakers=args.num_train_speakers,
        num_dev_speakers=args.num_dev_speakers,
        num_test_speakers=args.num_test_speakers,
        utts_per_speaker=args.utts_per_speaker,
        eval_utts_per_speaker=args.eval_utts_per_speaker,
        min_sec=args.min_sec,
        max_sec=args.max_sec,
        num_lm_sentences=args.num_lm_sentences,
        num_extra_train_speakers=args.num_extra_train_speakers,
    )
    try:
        make_synth_corpus(args.output_dir, config, nj=args.nj)
    except (EspeakError, FileExistsError, ValueError) as err:
        print(f"make_synth_corpus: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
