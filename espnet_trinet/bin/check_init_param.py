#!/usr/bin/env python3
"""Check, before fine-tuning, that ``--init_param`` fits the model asr_train will build.

Takes the options of ``espnet2.bin.asr_train`` (the same command line), builds the
fine-tuning model and compares it with every ``--init_param`` checkpoint: each
parameter present with its shape, the same number of encoder blocks, and the settings
that change what the weights mean (from the ``config.yaml`` next to the checkpoint).
Exit status 1 naming each mismatch; with ``--ignore_init_mismatch true`` (ESPnet then
loads what fits and leaves the rest random) it warns and exits 0.

Example (recipe stage 11 of asr.sh runs it):
    python -m espnet_trinet.bin.check_init_param --config conf/finetune_ctc_base.yaml \\
        --token_list data/token_list/char/tokens.txt \\
        --init_param exp/ssl_trinet/valid.loss.ave.pth:encoder:encoder
"""

import logging
import sys

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.finetune.init_param_check import check_init_param


def main(argv=None) -> int:
    from espnet2.tasks.asr import ASRTask

    args = ASRTask.get_parser().parse_args(argv)
    setup_logging()
    if not args.init_param:
        logging.info("no --init_param: nothing to check")
        return 0
    finetune_name = f"the fine-tuning config ({args.config} + options)" if args.config else "the fine-tuning options"
    try:
        config = dict(vars(args))  # build_model replaces token_list (a path) by the tokens
        model = ASRTask.build_model(args)
        problems = {spec: check_init_param(spec, model, config, finetune_name) for spec in args.init_param}
    except FileNotFoundError as err:
        logging.error("%s", err)
        return 1
    if not any(problems.values()):
        logging.info("--init_param %s fits the fine-tuning model", " ".join(args.init_param))
        return 0
    report = "".join(
        f"\n--init_param {spec} does not fit {finetune_name}:\n  " + "\n  ".join(lines)
        for spec, lines in problems.items()
        if lines
    )
    if args.ignore_init_mismatch:
        logging.warning(
            "%s\n--ignore_init_mismatch true: ESPnet loads only the tensors that fit; the rest stays random", report
        )
        return 0
    logging.error(
        "%s\nMake the fine-tuning config's frontend, normalize and encoder settings those of the pretraining "
        "config (or pretrain again), or pass --ignore_init_mismatch true to load only what fits",
        report,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
