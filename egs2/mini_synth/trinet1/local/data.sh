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
# More unlabelled pretraining speakers (subset train_extra, as train-clean-360 adds to train-clean-100):
# data/train becomes train + train_extra; train_labelled, dev, test and the LM text stay as without them.
num_extra_train_speakers=0
max_excluded_fraction=0.5  # fail when a larger fraction of a subset is unusable
help_message="Usage: $0 [--nj N] [--corpus_dir DIR] [--seed N] [--num_train_speakers N] [--utts_per_speaker N] [--eval_utts_per_speaker N] [--num_lm_sentences N] [--num_labelled N] [--num_extra_train_speakers N] [--max_excluded_fraction F]"
. ../../TEMPLATE/utils/parse_options.sh

subsets=(train dev test)
if [ "${num_extra_train_speakers}" -gt 0 ]; then
    subsets=(train train_extra dev test)
fi

log "synthesising the corpus in ${corpus_dir} (seed ${seed}; subsets ${subsets[*]})"
python -m espnet_trinet.bin.make_synth_corpus --output_dir "${corpus_dir}" --seed "${seed}" \
    --num_train_speakers "${num_train_speakers}" --utts_per_speaker "${utts_per_speaker}" \
    --eval_utts_per_speaker "${eval_utts_per_speaker}" --num_lm_sentences "${num_lm_sentences}" \
    --num_extra_train_speakers "${num_extra_train_speakers}" --nj "${nj}"
log "LibriSpeech-style data preparation; LM text -> data/local/other_text/text"
python -m espnet_trinet.bin.prepare_librispeech --corpus_dir "${corpus_dir}" \
    --subsets "${subsets[@]}" --output_dir data --max_excluded_fraction "${max_excluded_fraction}" \
    --lm_text_output data/local/other_text/text
# Drawn from the base train before train_extra joins it: the same utterances as without the extension.
log "labelled fine-tuning subset: ${num_labelled} random utterances of train -> data/train_labelled"
python -m espnet_trinet.bin.datadir filter --in_dir data/train --out_dir data/train_labelled \
    --num_random "${num_labelled}" --seed "${seed}"
if [ "${num_extra_train_speakers}" -gt 0 ]; then
    log "pretraining set: data/train + data/train_extra (${num_extra_train_speakers} more speakers) -> data/train"
    # Made aside and then swapped in, so that a killed run leaves no half-combined data/train
    # (stage 1 is not marked done then, and a new run prepares every set again).
    rm -rf data/train.combined.tmp data/train.base.tmp
    python -m espnet_trinet.bin.datadir combine data/train.combined.tmp data/train data/train_extra
    # The union's report of excluded utterances: both reports' rows under one header.
    { cat data/train/excluded.tsv; tail -n +2 data/train_extra/excluded.tsv; } >data/train.combined.tmp/excluded.tsv
    mv data/train data/train.base.tmp
    mv data/train.combined.tmp data/train
    rm -rf data/train.base.tmp data/train_extra
fi
