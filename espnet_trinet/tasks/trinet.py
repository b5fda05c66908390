"""TriNetTask: ESPnet's AbsTask for masked-prediction pretraining with teachers.

An own task (rather than extending ``espnet2.tasks.ssl``'s module-level tables) so
that its choices are one explicit table and any process can rebuild a model from
``config.yaml`` without importing plugins first.
"""

import argparse
from pathlib import Path
from typing import Callable, Collection, Dict, List, Optional, Tuple

import numpy as np
import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from espnet2.asr.encoder.transformer_encoder import TransformerEncoder
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.frontend.default import DefaultFrontend
from espnet2.asr.frontend.windowing import SlidingWindow
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.asr.specaug.specaug import SpecAug
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.layers.global_mvn import GlobalMVN
from espnet2.layers.utterance_mvn import UtteranceMVN
from espnet2.tasks.abs_task import AbsTask
from espnet2.torch_utils.initialize import initialize
from espnet2.train.abs_espnet_model import AbsESPnetModel
from espnet2.train.class_choices import ClassChoices
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.trainer import Trainer
from espnet2.utils.types import int_or_none, str_or_none
from typeguard import typechecked

from espnet_trinet.models.trinet_model import MAX_FRAME_MISMATCH, TriNetModel
from espnet_trinet.teachers.compat import StudentInput
from espnet_trinet.teachers.frozen_targets import AbsFrozenTargets, OfflineFrozenTargets, OnlineFrozenTargets

frontend_choices = ClassChoices(
    name="frontend",
    classes=dict(default=DefaultFrontend, sliding_window=SlidingWindow),
    type_check=AbsFrontend,
    default="default",
)
specaug_choices = ClassChoices(
    name="specaug",
    classes=dict(specaug=SpecAug),
    type_check=AbsSpecAug,
    default=None,
    optional=True,
)
normalize_choices = ClassChoices(
    "normalize",
    classes=dict(global_mvn=GlobalMVN, utterance_mvn=UtteranceMVN),
    type_check=AbsNormalize,
    default="utterance_mvn",
    optional=True,
)
encoder_choices = ClassChoices(
    "encoder",
    classes=dict(
        conformer=ConformerEncoder,
        transformer=TransformerEncoder,
        e_branchformer=EBranchformerEncoder,
    ),
    type_check=AbsEncoder,
    default="conformer",
)
frozen_teacher_choices = ClassChoices(
    "frozen_teacher",
    classes=dict(online=OnlineFrozenTargets, offline=OfflineFrozenTargets),
    type_check=AbsFrozenTargets,
    default=None,
    optional=True,  # none = data2vec
)
model_choices = ClassChoices(
    "model",
    classes=dict(trinet=TriNetModel),
    type_check=AbsESPnetModel,
    default="trinet",
)


class TriNetTask(AbsTask):
    num_optimizers: int = 1

    class_choices_list = [
        frontend_choices,  # --frontend, --frontend_conf
        specaug_choices,  # --specaug, --specaug_conf
        normalize_choices,  # --normalize, --normalize_conf
        encoder_choices,  # --encoder, --encoder_conf
        frozen_teacher_choices,  # --frozen_teacher, --frozen_teacher_conf
        model_choices,  # --model, --model_conf
    ]

    trainer = Trainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        group = parser.add_argument_group(description="Task related")
        group.add_argument(
            "--init",
            type=lambda x: str_or_none(x.lower()),
            default=None,
            choices=["chainer", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", None],
            help="The initialization method",
        )
        group.add_argument(
            "--input_size",
            type=int_or_none,
            default=None,
            help="Feature dimension when features come from the data loader (no frontend)",
        )
        for class_choices in cls.class_choices_list:
            class_choices.add_arguments(group)

    @classmethod
    @typechecked
    def build_collate_fn(cls, args: argparse.Namespace, train: bool) -> Callable[
        [Collection[Tuple[str, Dict[str, np.ndarray]]]],
        Tuple[List[str], Dict[str, torch.Tensor]],
    ]:
        return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1)

    @classmethod
    @typechecked
    def build_preprocess_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Optional[Callable[[str, Dict[str, np.ndarray]], Dict[str, np.ndarray]]]:
        return None

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ("speech",)

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        # Dumped frozen-teacher targets (frozen_teacher: offline); "text" is accepted
        # and ignored so an ASR data dir can be used as is.
        return ("frozen_targets", "text")

    @classmethod
    def build_optimizers(cls, args: argparse.Namespace, model: torch.nn.Module) -> List[torch.optim.Optimizer]:
        optimizers = super().build_optimizers(args, model)
        # The EMA teacher moves once per *optimizer update* (not per forward pass), so
        # gradient accumulation, AMP-skipped steps and non-finite grads (no step) are
        # all handled by ESPnet's Trainer deciding whether step() runs.
        for optimizer in optimizers:
            optimizer.register_step_post_hook(lambda *_: model.on_optimizer_step())
        # Skipped updates leave no trace in the optimizer, but ESPnet's Trainer calls
        # zero_grad() exactly once per update boundary, whether step() ran or not (and
        # nowhere else): the model counts skipped updates there.
        _call_after_zero_grad(optimizers[0], model.on_update_boundary)
        return optimizers

    @classmethod
    @typechecked
    def build_model(cls, args: argparse.Namespace) -> TriNetModel:
        if args.input_size is None:
            frontend = frontend_choices.get_class(args.frontend)(**args.frontend_conf)
            input_size = frontend.output_size()
        else:
            args.frontend = None
            args.frontend_conf = {}
            frontend = None
            input_size = args.input_size

        specaug = None
        if args.specaug is not None:
            specaug = specaug_choices.get_class(args.specaug)(**args.specaug_conf)

        normalize = None
        if args.normalize is not None:
            normalize = normalize_choices.get_class(args.normalize)(**args.normalize_conf)

        encoder = encoder_choices.get_class(args.encoder)(input_size=input_size, **args.encoder_conf)

        frozen_targets = None
        if getattr(args, "frozen_teacher", None) is not None:
            frozen_targets = frozen_teacher_choices.get_class(args.frozen_teacher)(**args.frozen_teacher_conf)
            # Here, not at the first batch: a teacher or dump that does not fit fails before training.
            student = StudentInput(frontend, args.frontend_conf, encoder, args.encoder_conf)
            frozen_targets.check_fits(student, _frozen_target_files(args), MAX_FRAME_MISMATCH)

        model = model_choices.get_class(args.model)(
            frontend=frontend,
            specaug=specaug,
            normalize=normalize,
            encoder=encoder,
            frozen_targets=frozen_targets,
            **args.model_conf,
        )
        if args.init is not None:
            initialize(model, args.init)
        return model


def _frozen_target_files(args: argparse.Namespace) -> List[Path]:
    """The ``frozen_targets`` files of the training and validation data.

    A training run (it has data) with an offline teacher but no such entry fails here;
    a model built without data (analysis, benchmarks) or for collect-stats is not asked for any.
    """
    files = []
    for split in ("train", "valid"):
        entries = getattr(args, f"{split}_data_path_and_name_and_type", None) or []
        found = [Path(path) for path, name, _ in entries if name == "frozen_targets"]
        if entries and not found and args.frozen_teacher == "offline" and not getattr(args, "collect_stats", False):
            raise ValueError(
                f"frozen_teacher 'offline' needs its dumped targets in the {split} data: add "
                f"--{split}_data_path_and_name_and_type <dump>/targets.scp,frozen_targets,kaldi_ark"
            )
        files += found
    return files


def _call_after_zero_grad(optimizer: torch.optim.Optimizer, callback: Callable[[], None]) -> None:
    """Make ``optimizer.zero_grad()`` call ``callback()`` after zeroing (torch has no hook for it)."""
    zero_grad = optimizer.zero_grad

    def zero_grad_then_callback(*args, **kwargs):
        zero_grad(*args, **kwargs)
        callback()

    optimizer.zero_grad = zero_grad_then_callback
