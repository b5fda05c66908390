"""Makes the generated noise and RIR corpus for the student's augmentation (data2vec-aqc) on machines
without MUSAN and RIRS_NOISES: noise.scp and rir.scp for background_noise.noise_scp and reverb.rir_scp.

Example:
    python -m espnet_trinet.bin.make_augmentation_corpus --output_dir downloads/augmentation
"""

import argparse
import logging
import sys
from typing import Optional, Sequence

from espnet_trinet.augmentation.generated_corpus import write_augmentation_corpus
from espnet_trinet.utils.cli_logging import setup_logging


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Generated noise corpus (white, pink, brown, band-limited, hum, babble-like, bursts) and "
        "room impulse responses (Polack's model), with ESPnet-style lists noise.scp and rir.scp. Deterministic "
        "for a seed; resumable; a finished corpus with the same settings is reused.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--output_dir", required=True, help="corpus folder (noise/, rir/, noise.scp, rir.scp)")
    parser.add_argument("--fs", type=int, default=16000, help="sampling rate in Hz")
    parser.add_argument("--num_noises", type=int, default=40)
    parser.add_argument("--noise_seconds", type=float, default=10.0, help="duration of each noise")
    parser.add_argument("--num_rirs", type=int, default=40)
    parser.add_argument("--rt60_min", type=float, default=0.2, help="shortest RT60 in s")
    parser.add_argument("--rt60_max", type=float, default=0.9, help="longest RT60 in s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        noise_scp, rir_scp = write_augmentation_corpus(
            args.output_dir,
            fs=args.fs,
            num_noises=args.num_noises,
            noise_seconds=args.noise_seconds,
            num_rirs=args.num_rirs,
            rt60_range=(args.rt60_min, args.rt60_max),
            seed=args.seed,
        )
    except (FileExistsError, ValueError) as err:
        print(f"make_augmentation_corpus: {err}", file=sys.stderr)
        return 1
    logging.info("noise list: %s (background_noise.noise_scp); RIR list: %s (reverb.rir_scp)", noise_scp, rir_scp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
