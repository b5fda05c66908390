"""The data loader's half of data2vec-aqc's two views: every utterance gets an augmented copy.

An ESPnet preprocess function (``TriNetTask.build_preprocess_fn``): it adds ``speech_aug``, the
augmented waveform of the same length, next to ``speech``; the collate function pads it and adds
``speech_aug_lengths``. Running in the data loader's workers (``num_workers``), as ESPnet's own
``rir_scp``/``noise_scp`` augmentation does, it overlaps the training step.

Randomness: training draws each utterance's generator from the seed, the utterance id and
numpy's global generator, which ESPnet seeds with ``seed + epoch`` in every process (and
``+ worker id`` in each data loader worker), so a copy differs from epoch to epoch and a run
is repeated exactly by the same seed and ``num_workers``; validation's copy depends on the seed
and the id only, so the validation loss measures the same task in every epoch.
"""

import zlib
from typing import Dict

import numpy as np

from espnet_trinet.augmentation.student_augmentation import StudentAugmentation

AUGMENTED_KEY = "speech_aug"


class AugmentedCopy:
    """``(utt_id, data) -> data`` with ``data[AUGMENTED_KEY]`` (S,) float32 added.

    Args:
        augmentation: what the copy gets (``StudentAugmentation``).
        seed: the run's seed.
        train: training (a new copy per epoch) or validation (one fixed copy).
    """

    def __init__(self, augmentation: StudentAugmentation, seed: int, train: bool):
        self.augmentation, self.seed, self.train = augmentation, int(seed), bool(train)

    def generator(self, utt_id: str) -> np.random.Generator:
        key = [self.seed, zlib.crc32(utt_id.encode("utf-8"))]
        if self.train:
            key.append(int(np.random.randint(2 ** 31)))  # seeded by ESPnet per epoch (and worker)
        return np.random.default_rng(key)

    def __call__(self, utt_id: str, data: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        speech = data["speech"]
        if speech.ndim != 1:
            raise ValueError(f"utterance {utt_id}: the augmented view needs mono audio, got shape {speech.shape}")
        data[AUGMENTED_KEY] = self.augmentation(speech, self.generator(utt_id))
        return data
