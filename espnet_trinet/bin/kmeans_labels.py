#!/usr/bin/env python3
"""HuBERT-style k-means labels at the student's frames (for a ``frame_labels`` target, MT4SSL).

    learn   fit k-means to a seeded sample of a data dir's features -> kmeans.npz, kmeans_info.yaml
    dump    write every utterance's labels -> labels.{ark,scp}, labels_info.yaml (resumable)
    merge   join the dumps of the parts of a split data dir -> labels.scp, labels_info.yaml
    verify  fail unless labels were made by this k-means model (and SSL model) for the data dir

Example (iteration 1: MFCC; iteration 2: --features ssl --ssl_model_file ... --layer 6):
    python -m espnet_trinet.bin.kmeans_labels learn --data_dir dump/raw/train \\
        --student_config conf/pretrain_mt4ssl_tiny.yaml --features mfcc --num_clusters 100 \\
        --output_dir L/kmeans
    python -m espnet_trinet.bin.datadir split --per_utt dump/raw/train 2
    python -m espnet_trinet.bin.kmeans_labels dump --data_dir dump/raw/train/split2utt/1 \\
        --kmeans_dir L/kmeans --output_dir L/train/split2utt/1     # and part 2
    python -m espnet_trinet.bin.kmeans_labels merge --output_dir L/train L/train/split2utt/{1,2}
    python -m espnet_trinet.bin.kmeans_labels verify --labels_dir L/train --kmeans_dir L/kmeans \\
        --data_dir dump/raw/train
"""

import argparse
import logging
import sys
from pathlib import Path

from espnet2.utils.types import str2bool

from espnet_trinet.utils.cli_logging import setup_logging


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    learn = commands.add_parser("learn", help="fit the k-means model of one label iteration")
    learn.add_argument("--data_dir", required=True, help="training data dir (wav.scp, utt2num_samples)")
    learn.add_argument("--student_config", required=True,
                       help="pretraining YAML of the method that learns from the labels: its frontend and "
                       "subsampling decide the label frames")
    learn.add_argument("--features", required=True, choices=["mfcc", "ssl"],
                       help="mfcc: 39-dim MFCC + deltas (iteration 1); ssl: a trained encoder's block (iteration 2)")
    _add_ssl_options(learn)
    learn.add_argument("--layer", type=int, default=None, help="ssl: the block (1-based) whose outputs are clustered")
    learn.add_argument("--num_clusters", type=int, default=100, help="K (HuBERT: 100 for mfcc, 500 for ssl)")
    learn.add_argument("--sample_fraction", type=float, default=1.0,
                       help="share of the utterances drawn for the fit (seeded)")
    learn.add_argument("--max_sample_frames", type=int, default=1_000_000,
                       help="at most this many student frames in the fit's sample (0: no limit)")
    learn.add_argument("--seed", type=int, default=0, help="seeds the sample and the fit")
    learn.add_argument("--output_dir", required=True, help="gets kmeans.npz and kmeans_info.yaml")

    dump = commands.add_parser("dump", help="write the labels of every utterance of a data dir (resumable)")
    dump.add_argument("--data_dir", required=True, help="data dir (or one part of a split one)")
    dump.add_argument("--kmeans_dir", required=True, help="a finished learn's --output_dir")
    dump.add_argument("--output_dir", required=True, help="gets labels.ark, labels.scp and labels_info.yaml")
    _add_ssl_options(dump, " (default: the one learn recorded; it must have the recorded sha256)")
    dump.add_argument("--force", type=str2bool, default=False,
                      help="discard labels already in --output_dir instead of resuming")

    merge = commands.add_parser("merge", help="join the label dumps of the parts of a split data dir")
    merge.add_argument("--output_dir", required=True, help="gets labels.scp and labels_info.yaml")
    merge.add_argument("parts", nargs="+", help="the parts' dump dirs, each with labels_info.yaml")

    verify = commands.add_parser("verify", help="fail unless the labels fit the k-means model (and data dir)")
    verify.add_argument("--labels_dir", required=True, help="a finished dump or merge")
    verify.add_argument("--kmeans_dir", required=True, help="the k-means model they must come from")
    verify.add_argument("--data_dir", default=None, help="every utterance of it must have labels")

    for sub in (learn, dump, merge, verify):
        sub.add_argument("--show_progress", type=str2bool, default=True, help="a tqdm progress bar")
    return parser


def _add_ssl_options(parser: argparse.ArgumentParser, note: str = "") -> None:
    parser.add_argument("--ssl_config", default=None,
                        help=f"ssl: the trained SSL model's config.yaml (default: next to --ssl_model_file){note}")
    parser.add_argument("--ssl_model_file", default=None, help=f"ssl: the trained SSL model's .pth{note}")


def _ssl_config(args: argparse.Namespace):
    if args.ssl_config is None and args.ssl_model_file is not None:
        return Path(args.ssl_model_file).parent / "config.yaml"
    return args.ssl_config


def run(args: argparse.Namespace) -> None:
    from espnet_trinet.labels.kmeans import learn_kmeans
    from espnet_trinet.labels.label_dump import dump_labels, merge_labels, verify_labels

    if args.command == "learn":
        info = learn_kmeans(
            args.data_dir, args.student_config, args.output_dir, features=args.features,
            num_clusters=args.num_clusters, sample_fraction=args.sample_fraction,
            max_sample_frames=args.max_sample_frames or None, seed=args.seed,
            ssl_config=_ssl_config(args), ssl_model_file=args.ssl_model_file, layer=args.layer,
            show_progress=args.show_progress,
        )
        logging.info(f"{info['num_clusters']} clusters of {info['features']} features from {info['sample_frames']} "
                     f"frames ({info['sample_utterances']} utterances) in {info['fit_seconds']} s -> {args.output_dir}")
    elif args.command == "dump":
        info = dump_labels(args.data_dir, args.kmeans_dir, args.output_dir, ssl_config=_ssl_config(args),
                           ssl_model_file=args.ssl_model_file, force=args.force, show_progress=args.show_progress)
        logging.info(f"labels of {info['num_utterances']} utterances -> {args.output_dir}")
    elif args.command == "merge":
        info = merge_labels(args.parts, args.output_dir)
        logging.info(f"{info['num_utterances']} utterances of {len(args.parts)} parts -> {args.output_dir}")
    else:
        verify_labels(args.labels_dir, args.kmeans_dir, args.data_dir)
        logging.info(f"{args.labels_dir}: labels of {args.kmeans_dir}"
                     + (f" for every utterance of {args.data_dir}" if args.data_dir else ""))


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    try:
        run(args)
    except (FileNotFoundError, ValueError) as err:  # one clear line, not a traceback
        logging.error("kmeans_labels %s: %s", args.command, " ".join(str(err).split("\n")))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
