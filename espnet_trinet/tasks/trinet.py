"""TriNetTask: ESPnet's AbsTask for masked-prediction pretraining with teachers.

An own task (rather than extending ``espnet2.tasks.ssl``'s module-level tables) so
that its choices are one explicit table and any process can rebuild a model from
``config.yaml`` without importing plugins first. A method is a config: a student
``view``, a list of ``targets`` (sources) and a list of ``objectives``, each entry
``{name, type, conf}`` as ESPnet's own SSL task lists its losses; ``--target_conf
<name>.<key>=<value>`` and ``--objective_conf`` change one entry from the command line.
"""

import argparse
import contextvars
import logging
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
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.layers.global_mvn import GlobalMVN
from espnet2.layers.utterance_mvn import UtteranceMVN
from espnet2.tasks.abs_task import AbsTask
from espnet2.torch_utils.initialize import initialize
from espnet2.train.abs_espnet_model import AbsESPnetModel
from espnet2.train.class_choices import ClassChoices
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.trainer import Trainer
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import int_or_none, str_or_none
from typeguard import typechecked

from espnet_trinet.encoders.layerwise import layer_drop_rate
from espnet_trinet.models.ssl_model import SSLModel
from espnet_trinet.objectives.abs_objective import AbsObjective
from espnet_trinet.objectives.codebook_heads import CodebookHeads
from espnet_trinet.objectives.conv_decoder import ConvDecoderPrediction
from espnet_trinet.objectives.cross_contrastive import CrossContrastive
from espnet_trinet.objectives.linear import LinearPrediction
from espnet_trinet.targets.abs_targets import AbsTargets
from espnet_trinet.targets.registry import TARGET_TYPES
from espnet_trinet.tasks.method_specs import resolved_specs, yaml_list
from espnet_trinet.teachers.fit_checks import student_input
from espnet_trinet.views.abs_view import AbsStudentView
from espnet_trinet.views.augmented_span_mask import AugmentedSpanMaskView
from espnet_trinet.views.span_mask import SpanMaskView
from espnet_trinet.views.visible_only import VisibleOnlyView

frontend_choices = ClassChoices(
    name="frontend",
    classes=dict(default=DefaultFrontend, sliding_window=SlidingWindow),
    type_check=AbsFrontend,
    default="default",
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
view_choices = ClassChoices(
    "view",
    classes=dict(
        span_mask=SpanMaskView,  # masked spans replaced by a learned embedding
        visible_only=VisibleOnlyView,  # data2vec 2.0: M masked clones, only visible frames reach the blocks
        augmented_span_mask=AugmentedSpanMaskView,  # data2vec-aqc: span masking of an augmented copy
    ),
    type_check=AbsStudentView,
    default="span_mask",
)
model_choices = ClassChoices(
    "model",
    classes=dict(ssl=SSLModel),
    type_check=AbsESPnetModel,
    default="ssl",
)
# List-valued: every entry of --targets / --objectives names one of these types.
target_choices = ClassChoices(
    "targets",
    classes=TARGET_TYPES,
    type_check=AbsTargets,
    default=None,
)
objective_choices = ClassChoices(
    "objectives",
    classes=dict(
        linear=LinearPrediction,  # one head; its loss follows the targets' kind
        codebook_heads=CodebookHeads,  # DinoSR: one head per codebook of an online_codebooks source
        conv_decoder=ConvDecoderPrediction,  # data2vec 2.0: conv decoder over the restored time axis, then linear
        cross_contrastive=CrossContrastive,  # data2vec-aqc: student and teacher vs the other view's quantised frames
    ),
    type_check=AbsObjective,
    default=None,
)

# True while build_model_from_file rebuilds a trained model (inference, packing, analysis):
# the checks that a source fits its training data are skipped, and an online teacher is
# not loaded, so a model needs none of its teachers' files to be rebuilt.
_REBUILDING = contextvars.ContextVar("rebuilding", default=False)


class TriNetTask(AbsTask):
    num_optimizers: int = 1

    class_choices_list = [
        frontend_choices,  # --frontend, --frontend_conf
        normalize_choices,  # --normalize, --normalize_conf
        encoder_choices,  # --encoder, --encoder_conf
        view_choices,  # --view, --view_conf
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
        group.add_argument(
            "--targets", type=yaml_list, default=[],
            help=f"target sources: a list of {{name, type, conf}}, type one of {target_choices.choices()}",
        )
        group.add_argument(
            "--objectives", type=yaml_list, default=[],
            help=f"objectives: a list of {{name, type, conf}}, type one of {objective_choices.choices()}",
        )
        group.add_argument(
            "--target_conf", action=NestedDictAction, default={},
            help="change the conf of a target source: --target_conf <name>.<key>=<value>",
        )
        group.add_argument(
            "--objective_conf", action=NestedDictAction, default={},
            help="change the conf of an objective: --objective_conf <name>.<key>=<value>",
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
        # The student view decides what the data loader adds (data2vec-aqc: an augmented copy);
        # statistics need the audio only.
        if getattr(args, "collect_stats", False) or getattr(args, "view", None) is None:
            return None
        return view_choices.get_class(args.view).data_preprocessor(args.view_conf, train, args.seed)

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ("speech",)

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        # The data keys of the target sources (dumped frozen-teacher targets, frame labels;
        # another data_key needs --allow_variable_data_keys true); "text" is accepted and
        # ignored so an ASR data dir can be used as is.
        return ("frozen_targets", "labels", "text")

    @classmethod
    def build_optimizers(cls, args: argparse.Namespace, model: torch.nn.Module) -> List[torch.optim.Optimizer]:
        optimizers = super().build_optimizers(args, model)
        # Target sources (the EMA teacher) move once per *optimizer update* (not per
        # forward pass), so gradient accumulation, AMP-skipped steps and non-finite grads
        # (no step) are all handled by ESPnet's Trainer deciding whether step() runs.
        for optimizer in optimizers:
            optimizer.register_step_post_hook(lambda *_: model.on_optimizer_step())
        # Skipped updates leave no trace in the optimizer, but ESPnet's Trainer calls
        # zero_grad() exactly once per update boundary, whether step() ran or not (and
        # nowhere else): the model counts skipped updates there.
        _call_after_zero_grad(optimizers[0], model.on_update_boundary)
        return optimizers

    @classmethod
    def build_model_from_file(cls, *args, **kwargs):
        token = _REBUILDING.set(True)
        try:
            return super().build_model_from_file(*args, **kwargs)
        finally:
            _REBUILDING.reset(token)

    @classmethod
    @typechecked
    def build_model(cls, args: argparse.Namespace) -> SSLModel:
        if args.input_size is None:
            frontend = frontend_choices.get_class(args.frontend)(**args.frontend_conf)
            input_size = frontend.output_size()
        else:
            args.frontend = None
            args.frontend_conf = {}
            frontend = None
            input_size = args.input_size

        normalize = None
        if args.normalize is not None:
            normalize = normalize_choices.get_class(args.normalize)(**args.normalize_conf)

        encoder = encoder_choices.get_class(args.encoder)(input_size=input_size, **args.encoder_conf)
        _check_layer_drop_under_ddp(args, encoder)
        view = view_choices.get_class(args.view)(dim=encoder.output_size(), **args.view_conf)

        targets, objectives = {}, []
        if not getattr(args, "collect_stats", False):  # statistics need the frontend only
            data_files = _data_files(args)
            target_specs = resolved_specs(getattr(args, "targets", []), getattr(args, "target_conf", {}), "target")
            for spec in target_specs:
                source = target_choices.get_class(spec["type"])(encoder=encoder, data_files=data_files, **spec["conf"])
                spec["conf"].update(source.resolved_conf())
                targets[spec["name"]] = source
            objective_specs = resolved_specs(getattr(args, "objectives", []), getattr(args, "objective_conf", {}),
                                              "objective")
            for spec in objective_specs:
                source = targets.get(spec["conf"].get("targets"))
                if source is None:
                    raise ValueError(
                        f"objective '{spec['name']}' needs conf.targets, one of the target sources {sorted(targets)}"
                    )
                objectives.append(objective_choices.get_class(spec["type"])(
                    name=spec["name"], input_dim=encoder.output_size(), output_dim=source.output_dim,
                    target_kind=source.kind, num_groups=source.num_groups, **spec["conf"],
                ))
            if not _REBUILDING.get():
                # Here, not at the first batch: a teacher or dump that does not fit fails before training.
                student = student_input(frontend, args.frontend_conf, encoder, args.encoder_conf)
                for name, source in targets.items():
                    if source.data_key is not None and not data_files:
                        # A model built without data (analysis, benchmarks) has no files to check.
                        logging.info(f"target source '{name}': no data given, its '{source.data_key}' not checked")
                        continue
                    source.check_fits(student, data_files.get(source.data_key, []))
                if data_files:  # a model built without data (analysis, benchmarks) reads none of the view's files
                    view.check_data(student.fs)
            # config.yaml (written after this) holds what was resolved here, overrides included.
            args.targets, args.target_conf = target_specs, {}
            args.objectives, args.objective_conf = objective_specs, {}
            if not objectives:
                raise ValueError("the config has no objectives: list at least one under 'objectives:'")

        model = model_choices.get_class(args.model)(
            frontend=frontend,
            normalize=normalize,
            encoder=encoder,
            view=view,
            targets=targets,
            objectives=objectives,
            **args.model_conf,
        )
        if args.init is not None:
            initialize(model, args.init)
        return model


def _check_layer_drop_under_ddp(args: argparse.Namespace, encoder: torch.nn.Module) -> None:
    """Layer drop leaves the dropped blocks without gradients: DDP (ESPnet's default
    find_unused_parameters=False) would fail at the step after the first drop."""
    several = (getattr(args, "ngpu", 0) or 0) > 1 or (getattr(args, "dist_world_size", None) or 1) > 1
    if several and layer_drop_rate(encoder) > 0 and not getattr(args, "unused_parameters", False):
        raise ValueError(
            f"encoder_conf.layer_drop_rate {layer_drop_rate(encoder)} on several GPUs needs unused_parameters: true "
            "(a dropped block gets no gradient, and DDP waits for it); add it to the config"
        )


def _data_files(args: argparse.Namespace) -> Dict[str, List[Path]]:
    """{data name: files} of the training and validation data (empty without data)."""
    files: Dict[str, List[Path]] = {}
    for split in ("train", "valid"):
        for path, name, _ in getattr(args, f"{split}_data_path_and_name_and_type", None) or []:
            files.setdefault(name, []).append(Path(path))
    return files


def _call_after_zero_grad(optimizer: torch.optim.Optimizer, callback: Callable[[], None]) -> None:
    """Make ``optimizer.zero_grad()`` call ``callback()`` after zeroing (torch has no hook for it)."""
    zero_grad = optimizer.zero_grad

    def zero_grad_then_callback(*args, **kwargs):
        zero_grad(*args, **kwargs)
        callback()

    optimizer.zero_grad = zero_grad_then_callback
