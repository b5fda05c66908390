#!/usr/bin/env python3
"""Dump the frozen teacher's targets for a data dir (for a ``frozen_asr`` target in mode ``offline``).

Example:
    python -m espnet_trinet.bin.dump_frozen_targets \\
        --data_dir dump/raw/train --output_dir dump/frozen_targets/train \\
        --asr_model_file exp/asr_data2vec/valid.cer_ctc.ave.pth --projector ctc \\
        --token_list data/token_list/char/tokens.txt

With ``--verify_only true`` it dumps nothing and checks that the complete dump in
``--output_dir`` was made by this teacher and projector (exit status 1 naming what
changed otherwise): the recipe runs it before reusing a finished dump.
"""

import argparse
import logging
import sys
from pathlib import Path

import yaml
from espnet2.utils.types import str2bool

from espnet_trinet.targets.frozen_teacher import FrozenTeacherTargets
from espnet_trinet.teachers.offline_dump import INFO_FILE, check_dump_request, dump_frozen_targets, dump_request
from espnet_trinet.teachers.projectors import PROJECTOR_KINDS


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default=None, help="data dir with wav.scp (16 kHz, formatted); required to dump")
    parser.add_argument("--output_dir", required=True, help="where targets.{ark,scp} and targets_info.yaml go")
    teacher = parser.add_argument_group("frozen teacher (an ESPnet ASR model)")
    teacher.add_argument("--asr_train_config", default=None, help="its config.yaml (default: next to the model)")
    teacher.add_argument("--asr_model_file", default=None, help="its .pth")
    teacher.add_argument("--asr_model_zip", default=None, help="or a zip from espnet2.bin.pack asr")
    proj = parser.add_argument_group(
        "projector (must match the pretraining config: give its frozen_asr target's conf as --source_conf, "
        "or each setting)")
    proj.add_argument("--source_conf", type=_yaml_dict, default=None,
                      help="the conf of the pretraining config's frozen_asr target, as YAML (the recipe passes it): "
                      "its projector, num_classes, seed and temperature")
    proj.add_argument("--projector", default=None, choices=sorted(PROJECTOR_KINDS), help="default: ctc")
    proj.add_argument("--num_classes", type=int, default=None, help="classes of the random projection (32)")
    proj.add_argument("--seed", type=int, default=None, help="seed of the random projection (0)")
    proj.add_argument("--temperature", type=float, default=None, help="softmax temperature (ctc; 1.0)")
    parser.add_argument("--token_list", default=None,
                        help="the recipe's token list (tokens.txt); projector ctc: must be the teacher's")
    parser.add_argument("--verify_only", type=str2bool, default=False,
                        help="dump nothing; fail unless --output_dir holds a complete dump by this teacher "
                        "and projector")
    parser.add_argument("--target_dtype", default="float32", choices=["float32", "float16"],
                        help="storage of soft/regression targets (hard ids are always compact integers)")
    parser.add_argument(
        "--batch_seconds", type=float, default=0.0,
        help="padded audio per teacher batch; 0 = one utterance at a time, the exact unpadded "
        "teacher output (ESPnet's STFT and conformer convolutions see padding at utterance ends, "
        "so a batched dump differs from it in the last frames of the shorter utterances)",
    )
    parser.add_argument("--fs", type=int, default=16000)
    parser.add_argument("--ngpu", type=int, default=0, choices=[0, 1])
    parser.add_argument("--log_level", default="INFO")
    return parser


def _yaml_dict(text: str) -> dict:
    value = yaml.safe_load(text) or {}
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"--source_conf must be a YAML dict, got {text!r}")
    return value


def projector_settings(args: argparse.Namespace) -> dict:
    """projector, num_classes, seed, temperature: from --source_conf, else the options, else the defaults.

    A setting given both ways must agree: a dump made with another projector than the
    pretraining config says would go unnoticed by an offline run.
    """
    settings = {}
    for key in ("projector", "num_classes", "seed", "temperature"):
        from_conf = (args.source_conf or {}).get(key)
        option = getattr(args, key)
        if from_conf is not None and option is not None and from_conf != option:
            raise ValueError(
                f"--{key} {option} disagrees with the pretraining config's {key}: {from_conf} (--source_conf); "
                f"set it in the config (trinet.sh --ssl_args \"--target_conf <name>.{key}={option}\")"
            )
        value = from_conf if from_conf is not None else option
        if value is not None:
            settings[key] = value
    return settings


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if args.data_dir is None and not args.verify_only:
        raise ValueError("--data_dir is required to dump targets")
    source = FrozenTeacherTargets(
        mode="online",
        asr_train_config=args.asr_train_config,
        asr_model_file=args.asr_model_file,
        asr_model_zip=args.asr_model_zip,
        token_list=args.token_list,
        **projector_settings(args),
    )
    if args.verify_only:
        info_path = Path(args.output_dir) / INFO_FILE
        if not info_path.is_file():
            raise FileNotFoundError(f"{info_path} does not exist: {args.output_dir} holds no complete dump")
        check_dump_request(yaml.safe_load(info_path.read_text(encoding="utf-8")),
                           dump_request(source, args.target_dtype), info_path)
        logging.info(f"{args.output_dir}: dumped by this teacher and projector")
        return
    info = dump_frozen_targets(
        args.data_dir,
        args.output_dir,
        source,
        target_dtype=args.target_dtype,
        batch_samples=int(args.batch_seconds * args.fs),
        device="cuda" if args.ngpu > 0 else "cpu",
        fs=args.fs,
    )
    logging.info(f"wrote {info['num_utterances']} utterances ({info['bytes']} bytes) to {args.output_dir}: {info}")


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as err:  # a clear message, not a traceback
        logging.error("%s", err)
        sys.exit(1)
