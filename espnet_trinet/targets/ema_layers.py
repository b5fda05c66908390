"""data2vec's targets: the EMA teacher's top-K layers on the intact frames, instance-normed and averaged."""

from typing import Optional, Union

import torch

from espnet_trinet.targets.abs_targets import TeacherInput, Targets
from espnet_trinet.targets.teacher_layers import EMATeacherLayers


class EMALayerTargets(EMATeacherLayers):
    """Targets from an exponential moving average of the student's encoder blocks: the mean
    of its top-K instance-normed layers (data2vec).

    Args: those of ``EMATeacherLayers`` (``targets/teacher_layers.py``): encoder, top_k,
    last_block, features, share_student_input, decay_start, decay_end, anneal_updates,
    freeze_teacher_after, ema_scope, data_files.
    """

    kind = "regression"

    def __init__(
        self,
        encoder: torch.nn.Module,
        top_k: int = 8,
        last_block: Union[str, int] = "N",
        features: str = "ffn",
        share_student_input: bool = False,
        decay_start: float = 0.999,
        decay_end: float = 0.9999,
        anneal_updates: int = 30000,
        freeze_teacher_after: Optional[int] = None,
        ema_scope: str = "blocks",
        data_files=None,
    ):
        # Spelled out (not **conf): the recipe's tools read a source's defaults from its signature.
        super().__init__(encoder, top_k, last_block, features, share_student_input, decay_start, decay_end,
                         anneal_updates, freeze_teacher_after, ema_scope)
        self.output_dim = encoder.output_size()

    @torch.no_grad()
    def forward(self, batch: TeacherInput) -> Targets:
        layers, valid = self.top_layers(batch)
        values = torch.stack(layers, dim=0).mean(dim=0)  # (B, T, D)
        decay = torch.tensor(self.decay(batch.num_updates))
        return Targets(values, valid, self.kind, stats=dict(ema_decay=decay))
