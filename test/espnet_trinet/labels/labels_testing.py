"""Helpers of the k-means label tests: the tiny student's config, lengths, audio, an SSL experiment."""

from pathlib import Path

import numpy as np
import torch
import yaml

from trinet_testing import MINI_CONF, namespace_from_config

STUDENT_CONFIG = MINI_CONF / "pretrain_data2vec_tiny.yaml"
NUM_CLUSTERS = 8
SSL_LAYER = 2
FS = 16000
# 40 lengths from 0.2 s to 6 s, nearly all off the 160-sample hop.
LENGTHS = [int(n) + 37 for n in np.linspace(0.2 * FS, 6 * FS, 40)]


def noise(num_samples: int, seed: int = 0) -> torch.Tensor:
    """(S,) float32 white noise."""
    return torch.from_numpy(0.1 * np.random.default_rng(seed).standard_normal(num_samples).astype(np.float32))


def write_utt2spk(data_dir: Path) -> Path:
    """One speaker per utterance, so that ``datadir split --per_utt`` can split the dir."""
    keys = [line.split()[0] for line in (data_dir / "wav.scp").read_text().splitlines()]
    (data_dir / "utt2spk").write_text("".join(f"{k} {k}\n" for k in keys))
    (data_dir / "spk2utt").write_text("".join(f"{k} {k}\n" for k in keys))
    return data_dir


def make_ssl_experiment(out_dir: Path, seed: int = 0, **overrides) -> Path:
    """A randomly initialised tiny data2vec model saved as an SSL experiment (config.yaml + .pth).

    Returns the model file. ``overrides`` replace args (e.g. ``frontend_conf``).
    """
    from espnet_trinet.tasks.trinet import TriNetTask

    out_dir.mkdir(parents=True, exist_ok=True)
    args = namespace_from_config(STUDENT_CONFIG, normalize="utterance_mvn", normalize_conf={}, **overrides)
    torch.manual_seed(seed)
    model = TriNetTask.build_model(args)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    model_file = out_dir / "valid.loss.ave.pth"
    torch.save(model.state_dict(), model_file)
    return model_file
