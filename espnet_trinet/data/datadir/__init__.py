"""Kaldi data-dir tools in Python (Kaldi is not a dependency): read/write, validate, fix,
split, subset, filter, combine."""

from espnet_trinet.data.datadir.combine import combine_data_dirs
from espnet_trinet.data.datadir.filter import FilterReport, filter_data_dir
from espnet_trinet.data.datadir.fix import FixReport, fix_data_dir
from espnet_trinet.data.datadir.kaldi_files import (
    DataDirError,
    read_map,
    spk2utt_to_utt2spk,
    utt2spk_to_spk2utt,
    write_map,
    write_spk2utt,
)
from espnet_trinet.data.datadir.split import split_data_dir
from espnet_trinet.data.datadir.subset import subset_data_dir
from espnet_trinet.data.datadir.validate import DataDirSummary, validate_data_dir

__all__ = [
    "DataDirError",
    "DataDirSummary",
    "FilterReport",
    "FixReport",
    "combine_data_dirs",
    "filter_data_dir",
    "fix_data_dir",
    "read_map",
    "spk2utt_to_utt2spk",
    "split_data_dir",
    "subset_data_dir",
    "utt2spk_to_spk2utt",
    "validate_data_dir",
    "write_map",
    "write_spk2utt",
]
