#!/usr/bin/env bash
# Shared stages of every TriNet recipe (egs2/<corpus>/trinet1/run.sh calls this):
#    1 data prep   2 speed perturbation   3 format   4 filter   5 token list
#    6 SSL statistics   7 data2vec pretraining   8 CTC fine-tuning of data2vec
#    9 TriNet pretraining   10 CTC fine-tuning of TriNet   11 decoding, scoring, RESULTS.md
#   12 packing
# Each stage is guarded by --stage/--stop_stage, logs under exp/, writes a done
# marker and is skipped when run again; training stages resume from their last
# checkpoint (ESPnet --resume) when a run was killed. Fine-tuning, decoding, scoring
# and ASR packing are the stages of ../asr1/asr.sh (ESPnet's numbering 5, 10-14).
set -euo pipefail

template_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091
. "${template_dir}/../utils/log.sh"
# shellcheck disable=SC1091
. "${template_dir}/../utils/done_marker.sh"

# ---------------------------------------------------------------- options
stage=1                 # first stage to run
stop_stage=12           # last stage
nj=2                    # parallel jobs for data preparation, statistics and target dumps
inference_nj=2          # parallel decoding jobs
ngpu=0                  # GPUs per node for training (0 = CPU)
num_nodes=1             # nodes for training (needs cuda_cmd=slurm.pl in cmd.sh)
python=python3          # the python of tools/venv (set by path.sh)
train_cmd="${template_dir}/../utils/run.pl"  # job backends; cmd.sh overrides them
cuda_cmd="${template_dir}/../utils/run.pl"
decode_cmd="${template_dir}/../utils/run.pl"
local_data_opts=        # options for local/data.sh (stage 1), as in ESPnet's asr.sh
ssl_train_set=          # unlabelled pretraining set (data/<name>)
asr_train_set=          # labelled fine-tuning set (default: the pretraining set)
valid_set=              # validation set
test_sets=              # test sets, space separated
fs=16000                # sampling rate of the formatted audio
audio_format=flac       # flac or wav in dump/raw
max_excluded_fraction=0.5  # stages 1, 3: fail when a larger fraction of a set is unusable (wrong folder?)
min_sec=0.5             # stage 4: shorter utterances are dropped
max_sec=20              # stage 4: longer utterances are dropped
speed_perturb_factors=  # stage 2: e.g. "0.9 1.0 1.1" (empty = off); applies to the pretraining set
token_type=char         # stage 5: char or bpe
nbpe=30                 # stage 5: bpe vocabulary size
data2vec_config=        # stage 7: pretraining config of the data2vec baseline
data2vec_args=          # extra trinet_train options for stage 7 (e.g. "--max_epoch 5")
ssl_init_model=valid.loss.ave.pth  # the SSL checkpoint fine-tuning starts from
asr_config=             # stages 8, 10: CTC fine-tuning config (ESPnet asr_train)
asr_args=               # extra espnet2.bin.asr_train options for stages 8, 10
scratch_baseline=true   # stage 8 also trains the same CTC model from random init
trinet_config=          # stage 9: TriNet pretraining config
trinet_args=            # extra trinet_train options for stage 9
frozen_targets=offline  # stage 9: offline (dump the teacher's targets once) or online
frozen_projector=ctc    # stage 9: ctc, random or regression
frozen_dump_args=       # extra dump_frozen_targets options (e.g. "--num_classes 64 --seed 1")
frozen_targets_dir=     # stage 9: where the dumped targets go (default: ${dumpdir}/frozen_targets_<projector>);
                        # give each teacher its own dir when several experiments share one dump/
inference_config=       # stage 11: decoding config (greedy CTC)
inference_asr_model=valid.cer_ctc.ave.pth  # checkpoint decoded, packed and used as frozen teacher
recipe_command="./run.sh"  # written into RESULTS.md as the command that made it
dumpdir=dump
expdir=exp

help_message=$(cat << EOF
Usage: $0 --ssl_train_set <set> --valid_set <set> --test_sets "<sets>" [options]

Options:
  --stage / --stop_stage   first / last stage to run (${stage} / ${stop_stage})
  --nj / --inference_nj    data and dump jobs / decoding jobs (${nj} / ${inference_nj})
  --ngpu / --num_nodes     GPUs per node / nodes for training (${ngpu} / ${num_nodes})
  --local_data_opts        options passed to local/data.sh in stage 1
  --ssl_train_set / --asr_train_set / --valid_set / --test_sets
  --fs / --audio_format    dump/raw audio (${fs} Hz, ${audio_format})
  --max_excluded_fraction  stages 1, 3 fail above this fraction of unusable utterances (${max_excluded_fraction})
  --min_sec / --max_sec    duration filter of stage 4 (${min_sec} / ${max_sec})
  --speed_perturb_factors  stage 2, e.g. "0.9 1.0 1.1" (off)
  --token_type / --nbpe    stage 5 token list: char or bpe (${token_type})
  --data2vec_config / --data2vec_args   stage 7
  --asr_config / --asr_args             stages 8 and 10 (espnet2.bin.asr_train)
  --scratch_baseline       also fine-tune from random init with the same budget (${scratch_baseline})
  --trinet_config / --trinet_args       stage 9
  --frozen_targets         offline or online frozen teacher (${frozen_targets})
  --frozen_projector       ctc, random or regression (${frozen_projector})
  --frozen_targets_dir     dumped targets of stage 9 (default: ${dumpdir}/frozen_targets_<projector>)
  --inference_config / --inference_asr_model   stage 11 (${inference_asr_model})

Stages:
  1 data preparation (local/data.sh)      7 data2vec pretraining
  2 speed perturbation (optional)         8 CTC fine-tuning of data2vec (+ no-pretraining baseline)
  3 format audio to ${fs} Hz              9 TriNet pretraining (frozen teacher from stage 8)
  4 filter too short / long / empty      10 CTC fine-tuning of TriNet
  5 token list                           11 greedy CTC decoding, WER/CER, RESULTS.md
  6 SSL feature statistics               12 packing (espnet2.bin.pack) of SSL and ASR models
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
if [ "${stop_stage}" -ge 8 ]; then
    for var in asr_config trinet_config; do
        if [ -z "${!var}" ]; then
            log "--${var} is required for stages 8-12 (see --help)"
            exit 1
        fi
    done
fi
case "${frozen_targets}" in
    offline|online) ;;
    *) log "--frozen_targets ${frozen_targets}: use offline or online"; exit 1 ;;
esac
export PYTHON="${python}"  # the interpreter utils/run.pl and slurm.pl start jobs with

asr_train_set=${asr_train_set:-${ssl_train_set}}
# Sets that flow through formatting and filtering, each once.
# unique_sets <sets...>: the sets in order, each once.
unique_sets() { echo "$@" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' '; }
all_sets=$(unique_sets ${ssl_train_set} ${asr_train_set} ${valid_set} ${test_sets})
ssl_stats_dir="${expdir}/ssl_stats_${fs}"
inference_tag="$(basename "${inference_config:-decode}" .yaml)_asr_model_${inference_asr_model%.pth}"
asr_models="data2vec trinet"
[ "${scratch_baseline}" = true ] && asr_models="scratch ${asr_models}"
mkdir -p "${expdir}"

# train_ssl <exp_dir> <config> [trinet_train options...]: pretraining through ESPnet's
# launcher (one process on CPU or 1 GPU, DDP over ngpu GPUs, srun across nodes with
# slurm.pl). --resume true: a killed run continues from <exp_dir>/checkpoint.pth.
train_ssl() {
    local exp_dir=$1 config=$2
    shift 2
    mkdir -p "${exp_dir}"
    # A kill while ESPnet wrote its end-of-epoch files would make every --resume fail.
    if [ -f "${exp_dir}/checkpoint.pth" ]; then
        ${python} -m espnet_trinet.bin.repair_checkpoint "${exp_dir}"
    fi
    ${python} -m espnet2.bin.launch --cmd "${cuda_cmd}" --log "${exp_dir}/train.log" \
        --ngpu "${ngpu}" --num_nodes "${num_nodes}" --init_file_prefix "${exp_dir}/.dist_init_" \
        --multiprocessing_distributed true -- \
        ${python} -m espnet_trinet.bin.trinet_train --config "${config}" \
            --normalize_conf "stats_file=${ssl_stats_dir}/train/feats_stats.npz" \
            --train_data_path_and_name_and_type "${dumpdir}/raw/${ssl_train_set}/wav.scp,speech,sound" \
            --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/wav.scp,speech,sound" \
            --train_shape_file "${ssl_stats_dir}/train/speech_shape" \
            --valid_shape_file "${ssl_stats_dir}/valid/speech_shape" \
            --resume true --output_dir "${exp_dir}" "$@" \
        || { log "training failed, see ${exp_dir}/train.log"; tail -n 5 "${exp_dir}/train.log"; exit 1; }
    [ -f "${exp_dir}/${ssl_init_model}" ] || \
        { log "training ended without ${exp_dir}/${ssl_init_model}; set --ssl_init_model"; exit 1; }
}

# run_asr <tag> [asr.sh options...]: the ESPnet-numbered ASR stages for exp/asr_<tag>.
run_asr() {
    local tag=$1
    shift
    "${template_dir}/../asr1/asr.sh" --python "${python}" --nj "${nj}" --inference_nj "${inference_nj}" \
        --ngpu "${ngpu}" --num_nodes "${num_nodes}" --train_cmd "${train_cmd}" --cuda_cmd "${cuda_cmd}" \
        --decode_cmd "${decode_cmd}" --dumpdir "${dumpdir}" --expdir "${expdir}" \
        --train_set "${asr_train_set}" --valid_set "${valid_set}" --test_sets "${test_sets}" \
        --token_type "${token_type}" --nbpe "${nbpe}" --asr_config "${asr_config}" \
        --asr_args "${asr_args}" --asr_tag "${tag}" --inference_config "${inference_config}" \
        --inference_asr_model "${inference_asr_model}" --inference_tag "${inference_tag}" "$@"
}

# ---------------------------------------------------------------- stage 1
if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    log "Stage 1: data preparation (local/data.sh; unusable utterances are listed in data/<set>/excluded.tsv)"
    if needs_run data/.stage1.done "data preparation"; then
        # shellcheck disable=SC2086
        local/data.sh --nj "${nj}" --max_excluded_fraction "${max_excluded_fraction}" ${local_data_opts}
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
            # What stage 1 left out of the set is missing from its perturbed copies too.
            report="data/${ssl_train_set}/excluded.tsv"
            [ ! -f "${report}" ] || cp "${report}" "data/${sp_set}/"
            touch "data/${sp_set}/.done"
        fi
    else
        log "Stage 2: speed perturbation is off (--speed_perturb_factors)"
    fi
fi
if [ -n "${speed_perturb_factors}" ]; then
    ssl_train_set="${ssl_train_set}_sp"
    all_sets=$(unique_sets ${ssl_train_set} ${asr_train_set} ${valid_set} ${test_sets})
fi

# ---------------------------------------------------------------- stage 3
if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    log "Stage 3: format audio to ${fs} Hz mono ${audio_format} in ${dumpdir}/raw/org (unusable audio: <set>/excluded.tsv)"
    for dset in ${all_sets}; do
        # format_datadir resumes by itself; its own done marker makes the re-run instant.
        ${python} -m espnet_trinet.bin.format_datadir --in_dir "data/${dset}" \
            --out_dir "${dumpdir}/raw/org/${dset}" --fs "${fs}" --nj "${nj}" \
            --audio_format "${audio_format}" --max_excluded_fraction "${max_excluded_fraction}"
    done
fi

# ---------------------------------------------------------------- stage 4
if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    log "Stage 4: filter utterances (${min_sec} s <= duration <= ${max_sec} s, non-empty text, encodable);" \
        "every utterance stages 1, 3 and 4 left out, with its file and reason: ${dumpdir}/raw/<set>/excluded.tsv"
    train_sets=" $(unique_sets ${ssl_train_set} ${asr_train_set} ${valid_set}) "
    model_configs=$(echo ${data2vec_config} ${trinet_config} ${asr_config})
    min_encodable_sec=
    for dset in ${all_sets}; do
        if needs_run "${dumpdir}/raw/${dset}/.done" "filtering of ${dset}"; then
            duration_opts=(--min_sec "${min_sec}" --max_sec "${max_sec}")
            # Test sets keep every usable utterance whatever its length: dropping some
            # would make the WER incomparable with published numbers.
            [[ "${train_sets}" == *" ${dset} "* ]] || duration_opts=(--min_sec 0 --max_sec 100000)
            # ... except what the models cannot encode at all: below half an STFT window the
            # frontend fails (and the decoding job with it); below 7 frames conv2d subsampling
            # refuses the input (decoded as an empty hypothesis, a WER of deletions).
            if [ -z "${min_encodable_sec}" ] && [ -n "${model_configs}" ]; then
                # shellcheck disable=SC2086
                min_encodable_sec=$(${python} -m espnet_trinet.bin.min_input_length --fs "${fs}" ${model_configs}) \
                    || { log "cannot tell the shortest input of ${model_configs}"; exit 1; }
                log "the models (${model_configs}) encode ${min_encodable_sec} s of audio or more"
            fi
            if [ -n "${min_encodable_sec}" ]; then
                duration_opts+=(--min_encodable_sec "${min_encodable_sec}")
            else
                log "no model config given: utterances too short to encode are not dropped from ${dset}"
            fi
            ${python} -m espnet_trinet.bin.filter_datadir --in_dir "${dumpdir}/raw/org/${dset}" \
                --out_dir "${dumpdir}/raw/${dset}" "${duration_opts[@]}"
            ${python} -m espnet_trinet.bin.datadir validate "${dumpdir}/raw/${dset}"
            touch "${dumpdir}/raw/${dset}/.done"
        fi
    done
fi

# ---------------------------------------------------------------- stage 5
if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    log "Stage 5: ${token_type} token list of ${asr_train_set}"
    run_asr none --stage 5 --stop_stage 5
fi

# ---------------------------------------------------------------- stage 6
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
    log "Stage 7: data2vec pretraining -> ${expdir}/ssl_data2vec (log: ${expdir}/ssl_data2vec/train.log)"
    if needs_run "${expdir}/ssl_data2vec/.done" "data2vec pretraining"; then
        # shellcheck disable=SC2086
        train_ssl "${expdir}/ssl_data2vec" "${data2vec_config}" ${data2vec_args}
        touch "${expdir}/ssl_data2vec/.done"
    fi
fi

# ---------------------------------------------------------------- stage 8
if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ]; then
    log "Stage 8: CTC fine-tuning of data2vec (the baseline and the frozen teacher) -> ${expdir}/asr_data2vec"
    run_asr data2vec --stage 10 --stop_stage 11 \
        --pretrained_model "${expdir}/ssl_data2vec/${ssl_init_model}:encoder:encoder"
    if [ "${scratch_baseline}" = true ]; then
        log "Stage 8: the same CTC fine-tuning from random init (no pretraining) -> ${expdir}/asr_scratch"
        run_asr scratch --stage 10 --stop_stage 11
    fi
fi

# ---------------------------------------------------------------- stage 9
teacher_model="${expdir}/asr_data2vec/${inference_asr_model}"
targets_dir=${frozen_targets_dir:-${dumpdir}/frozen_targets_${frozen_projector}}
# The token list stages 5, 8 and 10 fine-tune with (asr.sh's names); with projector ctc the
# teacher must have been fine-tuned with it (checked by the dump and by the training).
if [ "${token_type}" = bpe ]; then
    token_list="data/token_list/bpe_unigram${nbpe}/tokens.txt"
else
    token_list="data/token_list/char/tokens.txt"
fi
if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ]; then
    log "Stage 9: TriNet pretraining with the frozen teacher ${teacher_model} (${frozen_targets}, ${frozen_projector})"
    for file in "${teacher_model}" "$(dirname "${teacher_model}")/config.yaml"; do
        [ -f "${file}" ] || { log "the frozen teacher's ${file} is missing: stage 8 makes it, run stage 8 first"; exit 1; }
    done
    # Every checked setting of the frozen teacher (see espnet_trinet/teachers/compat.py).
    dump_opts=(--asr_model_file "${teacher_model}" --projector "${frozen_projector}" --token_list "${token_list}")
    if [ "${frozen_targets}" = offline ]; then
        for dset in ${ssl_train_set} ${valid_set}; do
            out="${targets_dir}/${dset}"
            if needs_run "${out}/.done" "frozen targets of ${dset}"; then
                # One dump job per part of the set; each resumes by itself after a kill.
                ${python} -m espnet_trinet.bin.datadir split --per_utt "${dumpdir}/raw/${dset}" "${nj}" > /dev/null
                mkdir -p "${out}/log"
                # shellcheck disable=SC2086
                ${decode_cmd} JOB=1:"${nj}" "${out}/log/dump.JOB.log" \
                    ${python} -m espnet_trinet.bin.dump_frozen_targets \
                        --data_dir "${dumpdir}/raw/${dset}/split${nj}utt/JOB" --output_dir "${out}/split${nj}utt/JOB" \
                        "${dump_opts[@]}" ${frozen_dump_args} \
                    || { log "dumping frozen targets failed, see ${out}/log/dump.*.log:"
                         sed -n '/ERROR/,/^# Accounting/p' "${out}"/log/dump.*.log | grep -v "^# Acc" | head -n 20
                         exit 1; }
                # shellcheck disable=SC2046
                ${python} -m espnet_trinet.bin.merge_frozen_targets --output_dir "${out}" \
                    $(for n in $(seq "${nj}"); do echo "${out}/split${nj}utt/${n}"; done)
                touch "${out}/.done"
            else
                # A finished dump is reused only if this teacher and projector made it: stage 8
                # may have retrained the teacher, or the options may have changed since.
                # shellcheck disable=SC2086
                ${python} -m espnet_trinet.bin.dump_frozen_targets --verify_only true --output_dir "${out}" \
                    "${dump_opts[@]}" ${frozen_dump_args} > "${out}/log/verify.log" 2>&1 \
                    || { log "the frozen targets in ${out} do not fit (${out}/log/verify.log):"
                         grep -q ERROR "${out}/log/verify.log" && sed -n '/ERROR/,$p' "${out}/log/verify.log" \
                             || tail -n 5 "${out}/log/verify.log"
                         exit 1; }
            fi
        done
        output_dim=$(awk '$1 == "output_dim:" {print $2}' "${targets_dir}/${ssl_train_set}/targets_info.yaml")
        teacher_opts=(
            --frozen_teacher offline
            --frozen_teacher_conf "projector=${frozen_projector}" --frozen_teacher_conf "output_dim=${output_dim}"
            --frozen_teacher_conf "token_list=${token_list}"
            --train_data_path_and_name_and_type "${targets_dir}/${ssl_train_set}/targets.scp,frozen_targets,kaldi_ark"
            --valid_data_path_and_name_and_type "${targets_dir}/${valid_set}/targets.scp,frozen_targets,kaldi_ark"
        )
    else
        # Online: the teacher runs in every step; the config's output_dim, if set, is checked.
        teacher_opts=(
            --frozen_teacher online --frozen_teacher_conf "projector=${frozen_projector}"
            --frozen_teacher_conf "asr_model_file=${teacher_model}" --frozen_teacher_conf "token_list=${token_list}"
        )
    fi
    log "TriNet pretraining -> ${expdir}/ssl_trinet (log: ${expdir}/ssl_trinet/train.log)"
    if needs_run "${expdir}/ssl_trinet/.done" "TriNet pretraining"; then
        # shellcheck disable=SC2086
        train_ssl "${expdir}/ssl_trinet" "${trinet_config}" "${teacher_opts[@]}" ${trinet_args}
        touch "${expdir}/ssl_trinet/.done"
    fi
fi

# ---------------------------------------------------------------- stage 10
if [ "${stage}" -le 10 ] && [ "${stop_stage}" -ge 10 ]; then
    log "Stage 10: CTC fine-tuning of TriNet -> ${expdir}/asr_trinet"
    run_asr trinet --stage 10 --stop_stage 11 \
        --pretrained_model "${expdir}/ssl_trinet/${ssl_init_model}:encoder:encoder"
fi

# ---------------------------------------------------------------- stage 11
if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 11 ]; then
    log "Stage 11: greedy CTC decoding and scoring of ${test_sets}: ${asr_models}"
    model_opts=()
    for tag in ${asr_models}; do
        run_asr "${tag}" --stage 12 --stop_stage 13
    done
    declare -A names=([scratch]="no pretraining" [data2vec]="data2vec" [trinet]="TriNet (${frozen_projector})")
    for tag in ${asr_models}; do
        model_opts+=(--model "${names[${tag}]}=${expdir}/asr_${tag}/${inference_tag}")
    done
    ${python} -m espnet_trinet.bin.make_results --output RESULTS.md --test_sets "${test_sets}" \
        "${model_opts[@]}" --command "${recipe_command}" --title "$(basename "$(dirname "${PWD}")") $(basename "${PWD}")" \
        --note "pretraining: ${data2vec_config} ${data2vec_args} | ${trinet_config} ${trinet_args} (set ${ssl_train_set})" \
        --note "fine-tuning (every model the same): ${asr_config} ${asr_args} (set ${asr_train_set}), checkpoint ${inference_asr_model}" \
        --note "decoding: ${inference_config:-defaults} (greedy CTC); frozen teacher of TriNet: ${teacher_model}" \
        > "${expdir}/make_results.log"
    log "wrote RESULTS.md"
    cat RESULTS.md
fi

# ---------------------------------------------------------------- stage 12
if [ "${stage}" -le 12 ] && [ "${stop_stage}" -ge 12 ]; then
    log "Stage 12: packing the SSL and ASR models (espnet2.bin.pack)"
    for tag in data2vec trinet; do
        ssl_dir="${expdir}/ssl_${tag}"
        packed="${ssl_dir}/ssl_${tag}_${ssl_init_model%.pth}.zip"
        if needs_run "${packed}" "packing of ${ssl_dir}"; then
            # A temporary name first: the zip exists only when it is complete.
            ${python} -m espnet2.bin.pack ssl --ssl_train_config "${ssl_dir}/config.yaml" \
                --ssl_model_file "${ssl_dir}/${ssl_init_model}" \
                --option "${ssl_stats_dir}/train/feats_stats.npz" \
                --outpath "${packed%.zip}.partial.zip" > "${ssl_dir}/pack.log" 2>&1 \
                || { log "packing failed, see ${ssl_dir}/pack.log"; exit 1; }
            mv "${packed%.zip}.partial.zip" "${packed}"
        fi
    done
    for tag in ${asr_models}; do
        run_asr "${tag}" --stage 14 --stop_stage 14
    done
    ls -l "${expdir}"/*/*.zip
fi

log "Successfully finished stages ${stage}-${stop_stage}"
