"""data2vec-aqc's student view: span masking of an augmented copy of each utterance.

The teachers see the clean waveform; the student sees the copy the data loader made
(``augmentation/augmented_copy.py``: white noise, reverberation, background noise, each with
its probability), of the same length, so its frames line up with the clean ones and its mask
(``SpanMaskView``) is the masked frames of both views.

``augmentation`` holds ``StudentAugmentation``'s settings; its noise and impulse-response lists
(``background_noise.noise_scp``, ``reverb.rir_scp``, ESPnet's format) are checked file by file
before training (``check_data``), and the view itself keeps no state of them, so a trained
model is rebuilt without them.
"""

from typing import Callable, Optional

import torch

from espnet_trinet.augmentation.augmented_copy import AUGMENTED_KEY, AugmentedCopy
from espnet_trinet.augmentation.student_augmentation import StudentAugmentation
from espnet_trinet.views.span_mask import SpanMaskView


class AugmentedSpanMaskView(SpanMaskView):
    """``SpanMaskView`` on the augmented copy ``speech_aug``.

    Args:
        dim, start_prob, span, require_same_masks: ``SpanMaskView``.
        augmentation: ``StudentAugmentation`` keyword arguments (fs, white_noise, reverb,
            background_noise).
    """

    def __init__(self, dim: int, start_prob: float = 0.65, span: int = 10, require_same_masks: bool = False,
                 augmentation: Optional[dict] = None):
        super().__init__(dim, start_prob, span, require_same_masks)
        self.augmentation = dict(augmentation or {})

    @classmethod
    def data_preprocessor(cls, view_conf: dict, train: bool, seed: int) -> Optional[Callable]:
        return AugmentedCopy(StudentAugmentation(**dict(view_conf.get("augmentation") or {})), seed, train)

    def check_data(self, fs: Optional[int]) -> None:
        augmentation = StudentAugmentation(**self.augmentation)
        if fs is not None and augmentation.fs != fs:
            raise ValueError(f"view_conf.augmentation.fs is {augmentation.fs} Hz but the frontend reads {fs} Hz: "
                             "set augmentation.fs to the audio's rate")
        augmentation.check_files()

    def student_speech(self, speech: torch.Tensor, speech_lengths: torch.Tensor, data) -> torch.Tensor:
        """(B, S) clean waveform -> (B, S) its augmented copy (``data['speech_aug']``)."""
        if AUGMENTED_KEY not in data:
            raise RuntimeError(
                f"view augmented_span_mask reads the batch's '{AUGMENTED_KEY}', which the task's data loader adds "
                "(TriNetTask.build_preprocess_fn); this batch has none"
            )
        augmented, lengths = data[AUGMENTED_KEY], data[f"{AUGMENTED_KEY}_lengths"]
        if augmented.shape != speech.shape or not torch.equal(lengths.to(speech_lengths.device), speech_lengths):
            raise ValueError(f"the augmented copy has shape {tuple(augmented.shape)}, the clean batch "
                             f"{tuple(speech.shape)}: each copy must keep its utterance's length")
        return augmented.to(speech.dtype)
