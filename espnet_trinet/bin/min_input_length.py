"""Prints the shortest audio (seconds) that every given model config can encode; stage 4 drops
shorter utterances from every set, test sets included (ESPnet would raise TooShortUttError).

Example:
    python -m espnet_trinet.bin.min_input_length --fs 16000 conf/pretrain_data2vec_base.yaml \
        conf/finetune_ctc_base.yaml
"""

import argparse
import contextlib
import logging
import sys
from typing import Optional, Sequence

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.data.min_input_length import min_input_length


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="The shortest input (in seconds, on stdout) that the frontend and encoder subsampling of "
        "every config accept.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("configs", nargs="+", help="trinet_train or asr_train YAML configs")
    parser.add_argument("--fs", type=int, default=16000, help="sampling rate of the audio in Hz")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    longest = 0
    for config in args.configs:
        try:
            # ESPnet prints notices (flash attention) on stdout, where only the answer may go.
            with contextlib.redirect_stdout(sys.stderr):
                result = min_input_length(config, args.fs)
        except (FileNotFoundError, ValueError) as err:
            print(f"min_input_length: {err}", file=sys.stderr)
            return 1
        logging.info(
            "%s: at least %d samples (%d frontend frames for %s)",
            config,
            result.samples,
            result.frames,
            result.subsampling,
        )
        longest = max(longest, result.samples)
    print(f"{longest / args.fs:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
