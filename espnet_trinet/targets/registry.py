"""The target-source types a config's ``targets`` list can name (the task's table, importable
without the task: the recipe reads method configs through it, ``bin/ssl_method_info``)."""

from espnet_trinet.targets.ema_layers import EMALayerTargets
from espnet_trinet.targets.frame_labels import FrameLabelTargets
from espnet_trinet.targets.frozen_teacher import FrozenTeacherTargets
from espnet_trinet.targets.online_codebooks import OnlineCodebookTargets
from espnet_trinet.targets.quantized_frames import QuantizedFrameTargets

TARGET_TYPES = dict(
    ema_layers=EMALayerTargets,  # data2vec: the EMA teacher's top-K layers
    frozen_asr=FrozenTeacherTargets,  # TriNet: a frozen, CTC fine-tuned ASR model
    frame_labels=FrameLabelTargets,  # dumped class ids per frame (k-means units)
    online_codebooks=OnlineCodebookTargets,  # DinoSR: the EMA teacher's top-K layers, one online codebook each
    quantized_frames=QuantizedFrameTargets,  # data2vec-aqc: both views' subsampled frames, Gumbel-quantised
)
