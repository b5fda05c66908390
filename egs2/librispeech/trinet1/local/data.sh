#!/usr/bin/env bash
# Stage 1 of the LibriSpeech recipe: Kaldi data dirs for every subset, and train_960
# (the unlabelled pretraining set) as the union of the three training subsets.
# The corpus comes from --librispeech_dir (an existing folder) or, when that is
# empty, is downloaded and md5-checked into ${download_dir}. The LM text
# librispeech-lm-norm.txt[.gz] (openslr 11), when found in the corpus folder or
# its parent, becomes data/local/other_text/text as in ESPnet's asr1 recipe.
set -euo pipefail
. ../../TEMPLATE/utils/log.sh

nj=4
librispeech_dir=        # existing LibriSpeech folder (holding train-clean-100/, ... or LibriSpeech/)
download_dir=downloads  # where archives go when librispeech_dir is empty
parts="dev-clean dev-other test-clean test-other train-clean-100 train-clean-360 train-other-500"
max_excluded_fraction=0.5  # fail when a larger fraction of a part is unusable (wrong folder, broken copy)
help_message="Usage: $0 [--librispeech_dir DIR | --download_dir DIR] [--parts \"...\"] [--nj N] [--max_excluded_fraction F]"
. ../../TEMPLATE/utils/parse_options.sh

if [ -z "${librispeech_dir}" ]; then
    log "no --librispeech_dir: downloading ${parts} into ${download_dir} (fails at once without network)"
    # shellcheck disable=SC2086
    python -m espnet_trinet.bin.download_librispeech --data_dir "${download_dir}" --parts ${parts} || {
        log "download failed. If you have LibriSpeech, run: ./run.sh --librispeech_dir /path/to/LibriSpeech"
        exit 1
    }
    librispeech_dir="${download_dir}/LibriSpeech"
fi
[ -d "${librispeech_dir}" ] || { log "--librispeech_dir ${librispeech_dir} is not a folder"; exit 1; }

log "LibriSpeech data preparation from ${librispeech_dir} (unusable utterances: data/<part>/excluded.tsv)"
# shellcheck disable=SC2086
python -m espnet_trinet.bin.prepare_librispeech --corpus_dir "${librispeech_dir}" --subsets ${parts} \
    --output_dir data --max_excluded_fraction "${max_excluded_fraction}" \
    --lm_text_output data/local/other_text/text

train_parts=""
for part in train_clean_100 train_clean_360 train_other_500; do
    [ -d "data/${part}" ] && train_parts+=" data/${part}"
done
if [ "$(echo ${train_parts} | wc -w)" -eq 3 ]; then
    log "combining ${train_parts} -> data/train_960"
    # shellcheck disable=SC2086
    python -m espnet_trinet.bin.datadir combine data/train_960 ${train_parts}
    # The parts' reports of excluded utterances (same header), so that train_960's is complete.
    { head -n 1 data/train_clean_100/excluded.tsv
      for dir in ${train_parts}; do tail -n +2 "${dir}/excluded.tsv"; done; } > data/train_960/excluded.tsv
else
    log "not all three training subsets are present (${train_parts}); train_960 is not made"
fi
