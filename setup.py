"""Installs the espnet_trinet package with the exact versions the project is tested with."""

from pathlib import Path

from setuptools import find_packages, setup

# Pinned: the GPU machines carry torch/torchaudio 2.11.0, and ESPnet internals
# (encoder blocks, Trainer hooks) are used directly, so minor releases matter.
install_requires = [
    "torch==2.11.0",
    "torchaudio==2.11.0",
    "espnet==202511",
    "sentencepiece==0.2.0",
    "kaldiio>=2.18.0",
    "humanfriendly>=10.0",
    "typeguard>=4.0",
    "soundfile>=0.12",
    "numpy>=2.0",
    "PyYAML>=6.0",
    "tqdm>=4.60",
    # ESPnet's Trainer imports these when use_tensorboard / use_matplotlib are true (its
    # defaults, and the recipes' settings); without them a run stops at its first epoch.
    "tensorboard==2.21.0",
    "matplotlib==3.11.2",  # also what bench/RESULTS.md was made with
    # k-means labels (MT4SSL's offline targets, HuBERT-style): MiniBatchKMeans, as HuBERT's and
    # ESPnet's k-means scripts use; the version bench/RESULTS.md was made with.
    "scikit-learn==1.9.1",
]

extras_require = {
    # pytest 9 ignores how pytest-xdist 3.8 marks a test's group (it rewrites Item._nodeid, which
    # pytest 9 no longer reads), and the README's `--dist loadgroup` then scatters a module's tests.
    "test": ["pytest==8.4.2", "pytest-xdist==3.8.0"],
}

setup(
    name="espnet_trinet",
    version="0.1.0",
    description="TriNet and its peers (data2vec, ...) as ESPnet tasks and recipes",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["espnet_trinet", "espnet_trinet.*"]),
    install_requires=install_requires,
    extras_require=extras_require,
    license="Apache-2.0",
)
