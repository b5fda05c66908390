#!/usr/bin/env bash
# Shared stages of every TriNet recipe (egs2/<corpus>/trinet1/run.sh calls this).
# Each stage is guarded by --stage/--stop_stage, logs under exp/, writes a done
# marker and is skipped when run again; training stages resume from their last
# checkpoint (ESPnet --resume) when a run was killed.
set -euo pipefail

template_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091
. "${template_dir}/../utils/log.sh"

# ---------------------------------------------------------------- options
stage=1                 # first stage to run
stop_stage=7            # last stage; stages 8-12 (fine-tuning, TriNet, scoring, packing) are not built yet
nj=2                    # parallel jobs for data preparation
ngpu=0                  # GPUs for training (0 = CPU)
python=python3          # the python of tools/venv (set by path.sh)
local_data_opts=        # options for local/data.sh (stage 1), as in ESPnet's asr.sh
ssl_train_set=          # unlabelled pretraining set (data/<name>)
valid_set=              # validation set
test_sets=              # test sets, space separated
fs=16000                # sampling rate of the formatted audio
audio_format=flac       # flac or wav in dump/raw
min_sec=0.5             # stage 4: shorter utterances are dropped
max_sec=20              # stage 4: longer utterances are dropped
speed_perturb_factors=  # stage 2: e.g. "0.9 1.0 1.1" (empty = off)
data2vec_config=        # stage 7: pretraining config of the data2vec baseline
data2vec_args=          # extra options for stage 7 (e.g. "--max_epoch 5")
dumpdir=dump
expdir=exp

help_message=$(cat << EOF
Usage: $0 --ssl_train_set <set> --valid_set <set> --test_sets "<sets>" [options]

Options:
  --stage / --stop_stage   first / last stage to run (${stage} / ${stop_stage})
  --nj                     parallel data-preparation jobs (${nj})
  --local_data_opts        options passed to local/data.sh in stage 1
  --ngpu                   GPUs for training (${ngpu})
  --fs                     sampling rate of dump/raw audio (${fs})
  --min_sec / --max_sec    duration filter of stage 4 (${min_sec} / ${max_sec})
  --speed_perturb_factors  stage 2, e.g. "0.9 1.0 1.1" (off)
  --data2vec_config        pretraining config (stage 7)
  --data2vec_args          extra trinet_train options for stage 7

Stages:
  1 data preparation (local/data.sh)      5 token list (not built yet)
  2 speed perturbation (optional)         6 SSL feature statistics
  3 format audio to ${fs} Hz              7 data2vec pretraining
  4 filter too short / long / empty
EOF
)
# shellcheck disable=SC1091
. "${template_dir}/../utils/parse_options.sh"

for var in ssl_train_set valid_set; do
    if [ -z "${!var}" ]; then
        log "--${var} is required (see --help)"
        exit 1
    fi
done
if [ "${stop_stage}" -gt 7 ]; then
    log "stages 8-12 (CTC fine-tuning, TriNet pretraining, decoding, packing) are not built yet; use --stop_stage 7"
    exit 1
fi

# Sets that flow through formatting and filtering: pretraining, validation and tests.
all_sets="${ssl_train_set} ${valid_set} ${test_sets}"
mkdir -p "${expdir}"

# needs_run <marker> <description>: returns 1 (skip) when the marker exists.
needs_run() {
    if [ -f "$1" ]; then
        log "skip: $2 is done ($1)"
        return 1
    fi
    return 0
}

# ---------------------------------------------------------------- stage 1
if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    log "Stage 1: data preparation (local/data.sh)"
    if needs_run data/.stage1.done "data preparation"; then
        # shellcheck disable=SC2086
        local/data.sh --nj "${nj}" ${local_data_opts}
        for dset in ${all_sets}; do
            ${python} -m espnet_trinet.bin.datadir validate "data/${dset}"
        done
        touch data/.stage1.done
    fi
fi

# ---------------------------------------------------------------- stage 2
if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    if [ -n "${speed_perturb_factors}" ]; then
        log "Stage 2: speed perturbation of ${ssl_train_set}: ${speed_perturb_factors}"
        sp_set="${ssl_train_set}_sp"
        if needs_run "data/${sp_set}/.done" "speed perturbation"; then
            # shellcheck disable=SC2086
            ${python} -m espnet_trinet.bin.perturb_speed --in_dir "data/${ssl_train_set}" \
                --out_dir "data/${sp_set}" --factors ${speed_perturb_factors}
            touch "data/${sp_set}/.done"
        fi
    else
        log "Stage 2: speed perturbation is off (--speed_perturb_factors)"
    fi
fi
if [ -n "${speed_perturb_factors}" ]; then
    ssl_train_set="${ssl_train_set}_sp"
    all_sets="${ssl_train_set} ${valid_set} ${test_sets}"
fi

# ---------------------------------------------------------------- stage 3
if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    log "Stage 3: format audio to ${fs} Hz mono ${audio_format} in ${dumpdir}/raw/org"
    for dset in ${all_sets}; do
        # format_datadir resumes by itself; its own done marker makes the re-run instant.
        ${python} -m espnet_trinet.bin.format_datadir --in_dir "data/${dset}" \
            --out_dir "${dumpdir}/raw/org/${dset}" --fs "${fs}" --nj "${nj}" \
            --audio_format "${audio_format}"
    done
fi

# ---------------------------------------------------------------- stage 4
if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    log "Stage 4: filter utterances (${min_sec} s <= duration <= ${max_sec} s, non-empty text)"
    for dset in ${all_sets}; do
        if needs_run "${dumpdir}/raw/${dset}/.done" "filtering of ${dset}"; then
            ${python} -m espnet_trinet.bin.filter_datadir --in_dir "${dumpdir}/raw/org/${dset}" \
                --out_dir "${dumpdir}/raw/${dset}" --min_sec "${min_sec}" --max_sec "${max_sec}"
            ${python} -m espnet_trinet.bin.datadir validate "${dumpdir}/raw/${dset}"
            touch "${dumpdir}/raw/${dset}/.done"
        fi
    done
fi

# ---------------------------------------------------------------- stage 5
if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    log "Stage 5: token list is built with the fine-tuning stages (not built yet); nothing to do"
fi

# ---------------------------------------------------------------- stage 6
ssl_stats_dir="${expdir}/ssl_stats_${fs}"
if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
    log "Stage 6: feature statistics for global normalisation -> ${ssl_stats_dir}"
    if needs_run "${ssl_stats_dir}/.done" "SSL statistics"; then
        mkdir -p "${ssl_stats_dir}"
        ${python} -m espnet_trinet.bin.trinet_train --collect_stats true \
            --config "${data2vec_config}" --ngpu 0 --num_workers 0 \
            --normalize none \
            --train_data_path_and_name_and_type "${dumpdir}/raw/${ssl_train_set}/wav.scp,speech,sound" \
            --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/wav.scp,speech,sound" \
            --train_shape_file "${dumpdir}/raw/${ssl_train_set}/wav.scp" \
            --valid_shape_file "${dumpdir}/raw/${valid_set}/wav.scp" \
            --output_dir "${ssl_stats_dir}" > "${ssl_stats_dir}/stats.log" 2>&1 \
            || { log "stage 6 failed, see ${ssl_stats_dir}/stats.log"; exit 1; }
        touch "${ssl_stats_dir}/.done"
    fi
fi

# ---------------------------------------------------------------- stage 7
if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
    ssl_dir="${expdir}/ssl_data2vec"
    log "Stage 7: data2vec pretraining -> ${ssl_dir} (log: ${ssl_dir}/train.log)"
    if needs_run "${ssl_dir}/.done" "data2vec pretraining"; then
        mkdir -p "${ssl_dir}"
        # --resume true: a killed run continues from ${ssl_dir}/checkpoint.pth.
        # shellcheck disable=SC2086
        ${python} -m espnet_trinet.bin.trinet_train --config "${data2vec_config}" \
            --normalize_conf "stats_file=${ssl_stats_dir}/train/feats_stats.npz" \
            --train_data_path_and_name_and_type "${dumpdir}/raw/${ssl_train_set}/wav.scp,speech,sound" \
            --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/wav.scp,speech,sound" \
            --train_shape_file "${ssl_stats_dir}/train/speech_shape" \
            --valid_shape_file "${ssl_stats_dir}/valid/speech_shape" \
            --resume true --ngpu "${ngpu}" --output_dir "${ssl_dir}" ${data2vec_args} \
            > "${ssl_dir}/train.log" 2>&1 \
            || { log "stage 7 failed, see ${ssl_dir}/train.log"; tail -n 5 "${ssl_dir}/train.log"; exit 1; }
        touch "${ssl_dir}/.done"
    fi
fi

log "Successfully finished stages ${stage}-${stop_stage}"
