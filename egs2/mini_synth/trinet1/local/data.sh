#!/usr/bin/env bash
# Stage 1 of mini_synth: synthesise the embedded corpus (espeak-ng) in LibriSpeech's
# layout, then read it with the same LibriSpeech data preparation as the real recipe,
# its LM text (librispeech-lm-norm.txt, no dev/test sentence) included.
set -euo pipefail
. ../../TEMPLATE/utils/log.sh

nj=2
corpus_dir=db/mini_synth
seed=0
num_train_speakers=16
utts_per_speaker=24
eval_utts_per_speaker=15  # per dev/test speaker (4 speakers each)
num_lm_sentences=20000  # LM text in the corpus (text only, about a second)
num_labelled=96         # the labelled fine-tuning subset of train (as train-clean-100 is of the 960 h)
max_excluded_fraction=0.5  # fail when a larger fraction of a subset is unusable
help_message="Usage: $0 [--nj N] [--corpus_dir DIR] [--seed N] [--num_train_speakers N] [--utts_per_speaker N] [--eval_utts_per_speaker N] [--num_lm_sentences N] [--num_labelled N] [--max_excluded_fraction F]"
. ../../TEMPLATE/utils/parse_options.sh

log "synthesising the corpus in ${corpus_dir} (seed ${seed})"
python -m espnet_trinet.bin.make_synth_corpus --output_dir "${corpus_dir}" --seed "${seed}" \
    --num_train_speakers "${num_train_speakers}" --utts_per_speaker "${utts_per_speaker}" \
    --eval_utts_per_speaker "${eval_utts_per_speaker}" --num_lm_sentences "${num_lm_sentences}" --nj "${nj}"
log "LibriSpeech-style data preparation; LM text -> data/local/other_text/text"
python -m espnet_trinet.bin.prepare_librispeech --corpus_dir "${corpus_dir}" \
    --subsets train dev test --output_dir data --max_excluded_fraction "${max_excluded_fraction}" \
    --lm_text_output data/local/other_text/text
log "labelled fine-tuning subset: ${num_labelled} random utterances of train -> data/train_labelled"
python -m espnet_trinet.bin.datadir filter --in_dir data/train --out_dir data/train_labelled \
    --num_random "${num_labelled}" --seed "${seed}"
