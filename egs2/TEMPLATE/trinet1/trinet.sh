#!/usr/bin/env bash
# Shared stages of every TriNet recipe (egs2/<corpus>/trinet1/run.sh calls this):
#    1 data prep   2 speed perturbation   3 format   4 filter   5 token list
#    6 SSL statistics   7 pretraining of the methods without a frozen teacher (data2vec, MT4SSL
#      after its k-means labels, DinoSR)
#    8 their CTC fine-tuning (the baselines; one of them is the frozen teacher)
#    9 pretraining of the methods with a frozen teacher (TriNet)   10 their CTC fine-tuning
#   11 decoding (greedy CTC, and with the LM), scoring, exp/RESULTS.md   12 packing
# The methods are a list (--ssl_methods), each a pretraining config of one framework;
# no stage names a method.
# Each stage is guarded by --stage/--stop_stage and logs under exp/. Its done marker records the
# settings its output was made with (../utils/done_marker.sh): a re-run skips it only when they
# are the same; otherwise the stage stops, saying what changed and the fix (--force true, or a
# dir of its own: experiment dirs are named from the method and its options, --ssl_tag/--asr_tag).
# Training stages resume from their last checkpoint (ESPnet --resume) when a run was killed.
# The token list, the LM, fine-tuning, decoding, scoring and ASR packing are the stages of
# ../asr1/asr.sh (ESPnet's numbering 5-14).
set -euo pipefail

template_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091
. "${template_dir}/../utils/log.sh"
# shellcheck disable=SC1091
. "${template_dir}/../utils/done_marker.sh"
# shellcheck disable=SC1091
. "${template_dir}/../utils/exp_names.sh"

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
lang=en                 # names the token list dir (data/<lang>_token_list) and the LM dir
use_lm=true             # stage 5: train an LM (asr.sh 6-8); stage 11: decode with it too
lm_config=              # stage 5: ESPnet LM training config (espnet2.bin.lm_train)
lm_args=                # stage 5: extra lm_train options
lm_train_text=          # stage 5: LM training texts, Kaldi "id sentence" files (default: the labelled
                        # transcripts and data/local/other_text/text when stage 1 wrote it)
lm_inference_config=    # stage 11: decoding config with the LM (beam_size, lm_weight)
force=false             # true: redo a stage whose output was made with other settings (removed first)
ssl_tag=                # exp/ssl_<method>_<tag> (default: <method><its options>, as ESPnet's asr_tag)
asr_tag=                # exp/asr_<model>_<tag> (default: <model><asr_args>)
ssl_methods="data2vec trinet"  # stages 7-12: the pretraining methods, each <name> (its config:
                        # conf/pretrain_<name>${ssl_config_suffix}.yaml) or <name>=<config>
ssl_config_suffix=      # e.g. _tiny: --ssl_methods data2vec reads conf/pretrain_data2vec_tiny.yaml
ssl_args=               # extra trinet_train options for every method (e.g. "--max_epoch 5"); a --target_conf
                        # or --objective_conf entry goes to the methods that have the part it names
teacher_method=         # whose fine-tuned model is the frozen teacher (default: the first method without one)
ssl_init_model=valid.loss.ave.pth  # the SSL checkpoint fine-tuning starts from
asr_config=             # stages 8, 10: CTC fine-tuning config (ESPnet asr_train)
asr_args=               # extra espnet2.bin.asr_train options for stages 8, 10
scratch_baseline=true   # stage 8 also trains the same CTC model from random init
frozen_targets=         # stage 9: offline (dump the teacher's targets once) or online (default: the config's)
frozen_projector=       # stage 9: ctc, random or regression (default: the config's)
frozen_dump_args=       # extra dump_frozen_targets options (e.g. "--batch_seconds 60"; the projector is the config's)
frozen_targets_dir=     # stage 9: where the dumped targets go (default: ${dumpdir}/frozen_targets_<projector>);
                        # give each teacher its own dir when several experiments share one dump/
kmeans_args=            # stages 7, 9: extra k-means options of the methods' labels (kmeans_labels learn,
                        # e.g. "--sample_fraction 0.1 --seed 1"; clusters and features are the config's)
rir_scp=                # stages 7, 9: impulse responses of an augmenting student view (data2vec-aqc), ESPnet's
                        # list format ("<id> <path>" lines, e.g. RIRS_NOISES); default: the recipe generates them
noise_scp=              # stages 7, 9: its background noises (e.g. MUSAN noise), same format and default
augmentation_corpus_opts=  # options of the generated noises and impulse responses (make_augmentation_corpus,
                        # e.g. "--num_noises 200 --seed 1")
inference_config=       # stage 11: decoding config (greedy CTC)
inference_asr_model=valid.cer_ctc.ave.pth  # checkpoint decoded, packed and used as frozen teacher
recipe_command="./run.sh"  # written into exp/RESULTS.md as the command that made it
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
  --lang                   language tag of the token list and LM dirs (${lang})
  --use_lm                 train an LM in stage 5 and also decode with it in stage 11 (${use_lm})
  --lm_config / --lm_args / --lm_train_text   the LM (ESPnet lm_train; text default: transcripts + data/local/other_text/text)
  --lm_inference_config    stage 11 decoding with the LM (beam size, lm_weight)
  --force                  redo stages whose output was made with other settings (${force})
  --ssl_tag / --asr_tag    experiment dir names exp/ssl_<method>_<tag>, exp/asr_<model>_<tag>
                           (default: from the options that differ, as ESPnet's asr.sh)
  --ssl_methods            pretraining methods, each <name> or <name>=<config> ("${ssl_methods}")
  --ssl_config_suffix      <name> reads conf/pretrain_<name><suffix>.yaml (${ssl_config_suffix:-none})
  --ssl_args               extra trinet_train options for every method
  --teacher_method         whose fine-tuned model is the frozen teacher (default: the first without one)
  --ssl_init_model         SSL checkpoint fine-tuning starts from (${ssl_init_model})
  --asr_config / --asr_args             stages 8 and 10 (espnet2.bin.asr_train)
  --scratch_baseline       also fine-tune from random init with the same budget (${scratch_baseline})
  --frozen_targets         offline or online frozen teacher (default: each config's mode)
  --frozen_projector       ctc, random or regression (default: each config's projector)
  --frozen_dump_args       extra dump_frozen_targets options (e.g. "--batch_seconds 60")
  --frozen_targets_dir     dumped targets of stage 9 (default: ${dumpdir}/frozen_targets_<projector>)
  --kmeans_args            extra options of the k-means labels (MT4SSL), e.g. "--sample_fraction 0.1"
  --rir_scp / --noise_scp  impulse responses / background noises of an augmented student view (data2vec-aqc),
                           ESPnet's list format (default: generated by the recipe, --augmentation_corpus_opts)
  --inference_config / --inference_asr_model   stage 11, greedy CTC (${inference_asr_model})
  --python / --train_cmd / --cuda_cmd / --decode_cmd   interpreter and job backends (cmd.sh)
  --recipe_command / --dumpdir / --expdir

Stages:
  1 data preparation (local/data.sh)      7 pretraining of the methods without a frozen teacher
                                            (k-means labels, or the noises and impulse responses of
                                            an augmented view, first, for a method that has them)
  2 speed perturbation (optional)         8 their CTC fine-tuning (+ no-pretraining baseline)
  3 format audio to ${fs} Hz              9 pretraining of the methods with a frozen teacher
  4 filter too short / long / empty      10 their CTC fine-tuning
  5 token list and LM (asr.sh 5-9)       11 decoding (greedy CTC; and with the LM), WER/CER, exp/RESULTS.md
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
if [ "${stop_stage}" -ge 8 ] && [ -z "${asr_config}" ]; then
    log "--asr_config is required for stages 8-12 (see --help)"
    exit 1
fi
case "${frozen_targets}" in
    ""|offline|online) ;;
    *) log "--frozen_targets ${frozen_targets}: use offline or online"; exit 1 ;;
esac
export PYTHON="${python}"  # the interpreter utils/run.pl and slurm.pl start jobs with

asr_train_set=${asr_train_set:-${ssl_train_set}}
# Sets that flow through formatting and filtering, each once.
# unique_sets <sets...>: the sets in order, each once.
unique_sets() { echo "$@" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' '; }
all_sets=$(unique_sets ${ssl_train_set} ${asr_train_set} ${valid_set} ${test_sets})
ssl_stats_dir="${expdir}/ssl_stats_${fs}"
# Where asr.sh puts the token list and the LM (utils/exp_names.sh names them for both scripts).
token_list="$(token_dir "data/${lang}_token_list" "${token_type}" unigram "${nbpe}")/tokens.txt"
lm_exp="${expdir}/$(lm_dir_name "${lm_config}" "${lang}" "$(token_tag "${token_type}" "${nbpe}")" "${lm_args}")"
lm_opts=(--lang "${lang}" --lm_config "${lm_config}" --lm_args "${lm_args}" --lm_exp "${lm_exp}")
# lm_texts: stage 5's LM text, --lm_train_text or the labelled transcripts and the corpus's own LM
# text when stage 1 wrote one (data/local/other_text/text; read when stage 5 runs, after stage 1).
lm_texts() {
    if [ -n "${lm_train_text}" ]; then
        echo "${lm_train_text}"
    elif [ -f data/local/other_text/text ]; then
        echo "${dumpdir}/raw/${asr_train_set}/text data/local/other_text/text"
    else
        echo "${dumpdir}/raw/${asr_train_set}/text"
    fi
}
greedy_decode_dir=$(decode_dir_name "${inference_config}" "" "" "${inference_asr_model}")
lm_decode_dir=$(decode_dir_name "${lm_inference_config}" "${lm_exp}" valid.loss.ave.pth "${inference_asr_model}")
if "${use_lm}" && [ "${stop_stage}" -ge 11 ] && [ -z "${lm_inference_config}" ]; then
    log "--use_lm true needs --lm_inference_config (beam size, lm_weight) for stage 11, or --use_lm false"
    exit 1
fi
# The suffix of every fine-tuned model's dir: --asr_tag, or its options as ESPnet names them.
asr_suffix=$(args_tag "${asr_args}")
[ -z "${asr_tag}" ] || asr_suffix="_${asr_tag}"
mkdir -p "${expdir}"

# ---------------------------------------------------------------- the methods
# Each method: its config, and what espnet_trinet.bin.ssl_method_info reads there (with
# the options every trinet_train of this run gets): whether it needs a fine-tuned frozen
# teacher (then it pretrains in stage 9, after the others were fine-tuned in stage 8).
recipe_target_opts=(--frozen_mode "${frozen_targets}" --frozen_projector "${frozen_projector}")
declare -A method_config=() method_labels=() method_args=() method_dir=() override_names=()
methods=() independent_methods=() teacher_methods=()
for spec in ${ssl_methods}; do
    name=${spec%%=*}
    config=conf/pretrain_${name}${ssl_config_suffix}.yaml
    [[ "${spec}" == *=* ]] && config=${spec#*=}
    if [[ ! "${name}" =~ ^[A-Za-z0-9_]+$ ]] || [ "${name}" = scratch ] || [ -n "${method_config[${name}]+x}" ]; then
        log "--ssl_methods: '${name}' must be a word (letters, digits, _), used once, and not 'scratch'"
        exit 1
    fi
    [ -f "${config}" ] || { log "--ssl_methods: the config of ${name}, ${config}, does not exist"; exit 1; }
    info=$(${python} -m espnet_trinet.bin.ssl_method_info --config "${config}" "${recipe_target_opts[@]}" \
        --ssl_args "${ssl_args}") || { log "--ssl_methods: cannot read ${config}"; exit 1; }
    eval "${info}"
    method_config[${name}]=${config}
    method_labels[${name}]=${name}${method_label:+ (${method_label})}
    method_args[${name}]=${method_args}  # shell-quoted: eval "args=(...)" splits it
    # exp/ssl_<name><its options> (--ssl_tag replaces the options), as ESPnet's asr.sh names its dirs.
    eval "args=(${method_args})"
    method_dir[${name}]=${name}$(args_tag "${args[*]}")
    [ -z "${ssl_tag}" ] || method_dir[${name}]=${name}_${ssl_tag}
    for part in ${method_foreign_names}; do override_names[${part}]+=" ${name}"; done
    # k-means labels of another method's encoder (HuBERT's second iteration): that method must
    # pretrain earlier in stage 7.
    for source in ${method_label_sources}; do
        var="method_labels_${source}_feature_method"
        feature_method=${!var}
        [ -z "${feature_method}" ] && continue
        [[ " ${independent_methods[*]} " == *" ${feature_method} "* ]] || \
            { log "--ssl_methods: ${name}'s k-means labels '${source}' are made from ${feature_method}'s encoder:" \
                  "list ${feature_method}, a method without a frozen teacher, before ${name}"; exit 1; }
    done
    methods+=("${name}")
    if [ "${method_needs_teacher}" = true ]; then teacher_methods+=("${name}"); else independent_methods+=("${name}"); fi
done
for part in "${!override_names[@]}"; do
    # shellcheck disable=SC2086
    if [ $(echo ${override_names[${part}]} | wc -w) -eq ${#methods[@]} ]; then
        log "--ssl_args changes '${part}', which none of the methods (${methods[*]}) has: a typo?"
        exit 1
    fi
done
if [ ${#methods[@]} -eq 0 ] && [ "${stop_stage}" -ge 4 ]; then
    log "--ssl_methods is empty: stages 4-12 need at least one pretraining method"
    exit 1
fi
if [ ${#teacher_methods[@]} -gt 0 ]; then
    teacher_method=${teacher_method:-${independent_methods[0]:-}}
    if [ -z "${teacher_method}" ]; then
        log "--ssl_methods: ${teacher_methods[*]} need a fine-tuned frozen teacher, but no method pretrains without one"
        exit 1
    fi
    [[ " ${independent_methods[*]} " == *" ${teacher_method} "* ]] || \
        { log "--teacher_method ${teacher_method} must be one of the methods without a frozen teacher: ${independent_methods[*]}"; exit 1; }
fi
asr_models="${independent_methods[*]} ${teacher_methods[*]}"
[ "${scratch_baseline}" = true ] && asr_models="scratch ${asr_models}"
method_dir[scratch]=scratch
# asr_dir <model>: exp/asr_<model's dir name><suffix>, the model's fine-tuning.
asr_dir() { echo "${expdir}/asr_${method_dir[$1]}${asr_suffix}"; }

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

# run_asr <asr exp dir> [asr.sh options...]: the ESPnet-numbered ASR stages for that dir.
run_asr() {
    local asr_exp=$1
    shift
    "${template_dir}/../asr1/asr.sh" --python "${python}" --nj "${nj}" --inference_nj "${inference_nj}" \
        --ngpu "${ngpu}" --num_nodes "${num_nodes}" --train_cmd "${train_cmd}" --cuda_cmd "${cuda_cmd}" \
        --decode_cmd "${decode_cmd}" --dumpdir "${dumpdir}" --expdir "${expdir}" --force "${force}" \
        --train_set "${asr_train_set}" --valid_set "${valid_set}" --test_sets "${test_sets}" \
        --token_type "${token_type}" --nbpe "${nbpe}" --asr_config "${asr_config}" \
        --asr_args "${asr_args}" --asr_exp "${asr_exp}" --inference_asr_model "${inference_asr_model}" \
        "${lm_opts[@]}" "$@"
}

# ---------------------------------------------------------------- stage 1
if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    log "Stage 1: data preparation (local/data.sh; unusable utterances are listed in data/<set>/excluded.tsv)"
    # local/data.sh writes every set again when run; what it made is in data/<set> (its contents are
    # what later stages' settings record).
    if needs_run data/.stage1.done "data preparation" --option "local_data_opts=${local_data_opts}" \
            --option "max_excluded_fraction=${max_excluded_fraction}" --file "data_script=local/data.sh"; then
        # shellcheck disable=SC2086
        local/data.sh --nj "${nj}" --max_excluded_fraction "${max_excluded_fraction}" ${local_data_opts}
        for dset in ${all_sets}; do
            ${python} -m espnet_trinet.bin.datadir validate "data/${dset}"
        done
        mark_done data/.stage1.done
    fi
fi

# ---------------------------------------------------------------- stage 2
if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    if [ -n "${speed_perturb_factors}" ]; then
        log "Stage 2: speed perturbation of ${ssl_train_set}: ${speed_perturb_factors}"
        sp_set="${ssl_train_set}_sp"
        if needs_run "data/${sp_set}/.done" "speed perturbation" --option "factors=${speed_perturb_factors}" \
                --data "source=data/${ssl_train_set}" --clear "data/${sp_set}"; then
            # shellcheck disable=SC2086
            ${python} -m espnet_trinet.bin.perturb_speed --in_dir "data/${ssl_train_set}" \
                --out_dir "data/${sp_set}" --factors ${speed_perturb_factors}
            # What stage 1 left out of the set is missing from its perturbed copies too.
            report="data/${ssl_train_set}/excluded.tsv"
            [ ! -f "${report}" ] || cp "${report}" "data/${sp_set}/"
            mark_done "data/${sp_set}/.done"
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
        out="${dumpdir}/raw/org/${dset}"
        if needs_run "${out}/.stage3.done" "formatting of ${dset}" --option "fs=${fs}" \
                --option "audio_format=${audio_format}" --option "max_excluded_fraction=${max_excluded_fraction}" \
                --data "source=data/${dset}" --clear "${out}" --fix "--dumpdir <dir>"; then
            # format_datadir resumes by itself after a kill (the audio it wrote is reused).
            ${python} -m espnet_trinet.bin.format_datadir --in_dir "data/${dset}" \
                --out_dir "${out}" --fs "${fs}" --nj "${nj}" \
                --audio_format "${audio_format}" --max_excluded_fraction "${max_excluded_fraction}"
            mark_done "${out}/.stage3.done"
        fi
    done
fi

# ---------------------------------------------------------------- stage 4
if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    log "Stage 4: filter utterances (${min_sec} s <= duration <= ${max_sec} s, non-empty text, encodable);" \
        "every utterance stages 1, 3 and 4 left out, with its file and reason: ${dumpdir}/raw/<set>/excluded.tsv"
    train_sets=" $(unique_sets ${ssl_train_set} ${asr_train_set} ${valid_set}) "
    model_configs=$(for name in "${methods[@]}"; do echo "${method_config[${name}]}"; done; echo ${asr_config})
    model_configs=$(echo ${model_configs})
    # What the models cannot encode at all is dropped from every set: below half an STFT window
    # the frontend fails (and the decoding job with it); below 7 frames conv2d subsampling
    # refuses the input (decoded as an empty hypothesis, a WER of deletions).
    min_encodable_sec=
    if [ -n "${model_configs}" ]; then
        # shellcheck disable=SC2086
        min_encodable_sec=$(${python} -m espnet_trinet.bin.min_input_length --fs "${fs}" ${model_configs}) \
            || { log "cannot tell the shortest input of ${model_configs}"; exit 1; }
        log "the models (${model_configs}) encode ${min_encodable_sec} s of audio or more"
    else
        log "no model config given: utterances too short to encode are not dropped"
    fi
    for dset in ${all_sets}; do
        duration_opts=(--min_sec "${min_sec}" --max_sec "${max_sec}")
        # Test sets keep every usable utterance whatever its length: dropping some
        # would make the WER incomparable with published numbers.
        [[ "${train_sets}" == *" ${dset} "* ]] || duration_opts=(--min_sec 0 --max_sec 100000)
        [ -z "${min_encodable_sec}" ] || duration_opts+=(--min_encodable_sec "${min_encodable_sec}")
        if needs_run "${dumpdir}/raw/${dset}/.done" "filtering of ${dset}" \
                --option "filter=${duration_opts[*]}" --data "source=${dumpdir}/raw/org/${dset}" \
                --clear "${dumpdir}/raw/${dset}" --fix "--dumpdir <dir>"; then
            ${python} -m espnet_trinet.bin.filter_datadir --in_dir "${dumpdir}/raw/org/${dset}" \
                --out_dir "${dumpdir}/raw/${dset}" "${duration_opts[@]}"
            ${python} -m espnet_trinet.bin.datadir validate "${dumpdir}/raw/${dset}"
            mark_done "${dumpdir}/raw/${dset}/.done"
        fi
    done
fi

# ---------------------------------------------------------------- stage 5
if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    log "Stage 5: ${token_type} token list of ${asr_train_set}$("${use_lm}" && echo ", and the LM ${lm_exp} on $(lm_texts)")"
    run_asr "" --stage 5 --stop_stage 9 --use_lm "${use_lm}" --lm_train_text "$(lm_texts)"
fi

# ---------------------------------------------------------------- stage 6
if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
    log "Stage 6: feature statistics for global normalisation -> ${ssl_stats_dir}"
    if needs_run "${ssl_stats_dir}/.done" "SSL statistics" \
            --keys "frontend=${method_config[${methods[0]}]}:frontend,frontend_conf" \
            --data "train_data=${dumpdir}/raw/${ssl_train_set}" --data "valid_data=${dumpdir}/raw/${valid_set}" \
            --clear "${ssl_stats_dir}" --fix "--expdir <dir>"; then
        mkdir -p "${ssl_stats_dir}"
        # Every method's frontend is the same (fine-tuning loads each encoder): any config serves.
        ${python} -m espnet_trinet.bin.trinet_train --collect_stats true \
            --config "${method_config[${methods[0]}]}" --ngpu 0 --num_workers 0 \
            --normalize none \
            --train_data_path_and_name_and_type "${dumpdir}/raw/${ssl_train_set}/wav.scp,speech,sound" \
            --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/wav.scp,speech,sound" \
            --train_shape_file "${dumpdir}/raw/${ssl_train_set}/wav.scp" \
            --valid_shape_file "${dumpdir}/raw/${valid_set}/wav.scp" \
            --output_dir "${ssl_stats_dir}" > "${ssl_stats_dir}/stats.log" 2>&1 \
            || { log "stage 6 failed, see ${ssl_stats_dir}/stats.log"; exit 1; }
        mark_done "${ssl_stats_dir}/.done"
    fi
fi

# pretrain_method <name> [trinet_train options...]: exp/ssl_<method dir>, unless done with the same
# settings; source_settings (an array) adds those of its prepared targets (prepare_sources).
source_settings=()
pretrain_method() {
    local name=$1
    shift
    local exp_dir="${expdir}/ssl_${method_dir[${name}]}"
    log "pretraining ${method_labels[${name}]} (${method_config[${name}]}) -> ${exp_dir} (log: ${exp_dir}/train.log)"
    if needs_run "${exp_dir}/.done" "pretraining of ${name} in ${exp_dir}" --file "config=${method_config[${name}]}" \
            --option "options=${method_args[${name}]} $*" --file "feats_stats=${ssl_stats_dir}/train/feats_stats.npz" \
            --data "train_data=${dumpdir}/raw/${ssl_train_set}" --data "valid_data=${dumpdir}/raw/${valid_set}" \
            "${source_settings[@]}" --clear "${exp_dir}" --fix "--ssl_tag <tag>"; then
        local args
        eval "args=(${method_args[${name}]})"
        train_ssl "${exp_dir}" "${method_config[${name}]}" "${args[@]}" "$@"
        mark_done "${exp_dir}/.done"
    fi
}

# finetune_method <name>: its CTC fine-tuning (asr.sh stages 10-11) from its SSL encoder.
finetune_method() {
    log "CTC fine-tuning of ${method_labels[$1]} -> $(asr_dir "$1")"
    run_asr "$(asr_dir "$1")" --stage 10 --stop_stage 11 \
        --pretrained_model "${expdir}/ssl_${method_dir[$1]}/${ssl_init_model}:encoder:encoder"
}

# ---------------------------------------------------------------- targets prepared by the recipe
# With projector ctc the teacher must have been fine-tuned with ${token_list}, the token list of
# stages 5, 8 and 10 (checked by the dump and by the training).
teacher_model=
[ -z "${teacher_method}" ] || teacher_model="$(asr_dir "${teacher_method}")/${inference_asr_model}"

# frozen_targets_opts <source> <mode> <projector> <data_key> <source_conf>: dumps the source's
# targets of the training and validation sets when offline (once; a finished dump is reused
# only if this teacher and projector made it) and sets source_opts, its trinet_train options,
# and source_settings, what its pretraining's settings record of the teacher.
frozen_targets_opts() {
    local source=$1 mode=$2 projector=$3 data_key=$4 source_conf=$5
    # Named by projector and teacher, so that two teachers' targets never share a dir.
    local targets_dir=${frozen_targets_dir:-${dumpdir}/frozen_targets_${projector}_$(basename "$(dirname "${teacher_model}")")}
    # Every checked setting of the frozen teacher (see espnet_trinet/teachers/fit_checks.py).
    local dump_opts=(--asr_model_file "${teacher_model}" --source_conf "${source_conf}" --token_list "${token_list}")
    source_opts+=(--target_conf "${source}.token_list=${token_list}")
    source_settings+=(--file "${source}_teacher=${teacher_model}" --file "${source}_token_list=${token_list}")
    if [ "${mode}" = online ]; then
        # Online: the teacher runs in every step.
        source_opts+=(--target_conf "${source}.asr_model_file=${teacher_model}")
        return
    fi
    local dset out
    for dset in ${ssl_train_set} ${valid_set}; do
        out="${targets_dir}/${dset}"
        if needs_run "${out}/.done" "frozen targets of ${dset} in ${out}" --file "teacher=${teacher_model}" \
                --option "source_conf=${source_conf}" --file "token_list=${token_list}" \
                --option "frozen_dump_args=${frozen_dump_args}" --data "source=${dumpdir}/raw/${dset}" \
                --clear "${out}" --fix "--frozen_targets_dir <dir>"; then
            mkdir -p "${out}/log"
            # One dump job per part of the set; each resumes by itself after a kill.
            ${python} -m espnet_trinet.bin.datadir split --per_utt "${dumpdir}/raw/${dset}" "${nj}" > /dev/null
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
            mark_done "${out}/.done"
        else
            # The same settings; and the dump's own provenance must fit the teacher too.
            mkdir -p "${out}/log"
            # shellcheck disable=SC2086
            ${python} -m espnet_trinet.bin.dump_frozen_targets --verify_only true --output_dir "${out}" \
                "${dump_opts[@]}" ${frozen_dump_args} > "${out}/log/verify.log" 2>&1 \
                || { log "the frozen targets in ${out} do not fit (${out}/log/verify.log):"
                     grep -q ERROR "${out}/log/verify.log" && sed -n '/ERROR/,$p' "${out}/log/verify.log" \
                         || tail -n 5 "${out}/log/verify.log"
                     exit 1; }
        fi
    done
    source_settings+=(--data "${source}_train_targets=${targets_dir}/${ssl_train_set}"
                       --data "${source}_valid_targets=${targets_dir}/${valid_set}")
    # The source reads output_dim from the dump's targets_info.yaml.
    source_opts+=(
        --train_data_path_and_name_and_type "${targets_dir}/${ssl_train_set}/targets.scp,${data_key},kaldi_ark"
        --valid_data_path_and_name_and_type "${targets_dir}/${valid_set}/targets.scp,${data_key},kaldi_ark"
    )
}

# kmeans_label_opts <source> <features> <clusters> <data_key> <feature method> <feature block> <config>:
# k-means labels of the training and validation sets at the student's frames (HuBERT-style,
# espnet_trinet.bin.kmeans_labels), made once: k-means on the training set, then every
# utterance's labels in ${nj} resumable jobs; reused only if made with the same settings, and
# verified against the k-means model and the encoder that made the features. Sets source_opts and
# source_settings as frozen_targets_opts does.
kmeans_label_opts() {
    local source=$1 features=$2 clusters=$3 data_key=$4 feature_method=$5 layer=$6 config=$7
    local labels_dir feature_opts=() feature_settings=()
    if [ "${features}" = ssl ]; then
        local ssl_dir="${expdir}/ssl_${method_dir[${feature_method}]}"
        local model_file="${ssl_dir}/${ssl_init_model}"
        for file in "${model_file}" "${ssl_dir}/config.yaml"; do
            [ -f "${file}" ] || { log "k-means labels '${source}' read ${feature_method}'s ${file}, which is missing: run stage 7 for ${feature_method} first"; exit 1; }
        done
        feature_opts=(--ssl_config "${ssl_dir}/config.yaml" --ssl_model_file "${model_file}")
        feature_settings=(--file "features_model=${model_file}" --option "layer=${layer}")
        labels_dir=${dumpdir}/kmeans_ssl_${method_dir[${feature_method}]}_block${layer}_k${clusters}$(args_tag "${kmeans_args}")
    else
        labels_dir=${dumpdir}/kmeans_${features}_k${clusters}$(args_tag "${kmeans_args}")
    fi
    local kmeans_dir=${labels_dir}/kmeans
    # The student's frontend decides the label frames (subsampling: checked by verify and training).
    if needs_run "${kmeans_dir}/.done" "k-means of ${source} in ${kmeans_dir}" --option "features=${features}" \
            --option "num_clusters=${clusters}" --option "kmeans_args=${kmeans_args}" "${feature_settings[@]}" \
            --keys "student=${config}:frontend,frontend_conf" --data "train_data=${dumpdir}/raw/${ssl_train_set}" \
            --clear "${labels_dir}" --fix "--kmeans_args \"<options>\" (the dir is named from them)"; then
        mkdir -p "${kmeans_dir}"
        log "k-means of ${features} features for ${source}: ${clusters} clusters on ${ssl_train_set} (log: ${kmeans_dir}/learn.log)"
        # shellcheck disable=SC2086
        ${python} -m espnet_trinet.bin.kmeans_labels learn --data_dir "${dumpdir}/raw/${ssl_train_set}" \
            --student_config "${config}" --features "${features}" ${layer:+--layer "${layer}"} "${feature_opts[@]}" \
            --num_clusters "${clusters}" ${kmeans_args} --output_dir "${kmeans_dir}" > "${kmeans_dir}/learn.log" 2>&1 \
            || { log "k-means failed, see ${kmeans_dir}/learn.log:"; tail -n 5 "${kmeans_dir}/learn.log"; exit 1; }
        mark_done "${kmeans_dir}/.done"
    fi
    local dset out
    for dset in ${ssl_train_set} ${valid_set}; do
        out="${labels_dir}/${dset}"
        if needs_run "${out}/.done" "k-means labels of ${dset} in ${out}" --file "kmeans=${kmeans_dir}/kmeans.npz" \
                "${feature_settings[@]}" --data "source=${dumpdir}/raw/${dset}" --clear "${out}"; then
            mkdir -p "${out}/log"
            ${python} -m espnet_trinet.bin.datadir split --per_utt "${dumpdir}/raw/${dset}" "${nj}" > /dev/null
            # One job per part of the set; each resumes by itself after a kill.
            ${decode_cmd} JOB=1:"${nj}" "${out}/log/dump.JOB.log" \
                ${python} -m espnet_trinet.bin.kmeans_labels dump \
                    --data_dir "${dumpdir}/raw/${dset}/split${nj}utt/JOB" --kmeans_dir "${kmeans_dir}" \
                    --output_dir "${out}/split${nj}utt/JOB" "${feature_opts[@]}" \
                || { log "k-means labels failed, see ${out}/log/dump.*.log:"
                     sed -n '/ERROR/,/^# Accounting/p' "${out}"/log/dump.*.log | grep -v "^# Acc" | head -n 20
                     exit 1; }
            # shellcheck disable=SC2046
            ${python} -m espnet_trinet.bin.kmeans_labels merge --output_dir "${out}" \
                $(for n in $(seq "${nj}"); do echo "${out}/split${nj}utt/${n}"; done)
            mark_done "${out}/.done"
        else
            mkdir -p "${out}/log"
            ${python} -m espnet_trinet.bin.kmeans_labels verify --labels_dir "${out}" --kmeans_dir "${kmeans_dir}" \
                --data_dir "${dumpdir}/raw/${dset}" > "${out}/log/verify.log" 2>&1 \
                || { log "the k-means labels in ${out} do not fit (${out}/log/verify.log):"
                     tail -n 5 "${out}/log/verify.log"; exit 1; }
        fi
    done
    source_settings+=(--data "${source}_train_labels=${labels_dir}/${ssl_train_set}"
                      --data "${source}_valid_labels=${labels_dir}/${valid_set}")
    source_opts+=(
        --train_data_path_and_name_and_type "${labels_dir}/${ssl_train_set}/labels.scp,${data_key},kaldi_ark"
        --valid_data_path_and_name_and_type "${labels_dir}/${valid_set}/labels.scp,${data_key},kaldi_ark"
    )
}

# augmentation_list_opts: the noise and impulse-response lists of an augmented student view
# (data2vec-aqc) whose config leaves them to the recipe: --noise_scp/--rir_scp, or a corpus the recipe
# generates once (espnet_trinet.bin.make_augmentation_corpus; reused only if made with the same settings).
# Every listed file is checked before training (trinet_train). Sets source_opts and source_settings.
augmentation_list_opts() {
    local rir=${rir_scp} noise=${noise_scp}
    if { [ "${method_needs_rir}" = true ] && [ -z "${rir}" ]; } || { [ "${method_needs_noise}" = true ] && [ -z "${noise}" ]; }; then
        local corpus=${dumpdir}/augmentation_${fs}$(args_tag "${augmentation_corpus_opts}")
        if needs_run "${corpus}/.stage.done" "generated noises and impulse responses in ${corpus}" \
                --option "fs=${fs}" --option "opts=${augmentation_corpus_opts}" --clear "${corpus}" \
                --fix "--augmentation_corpus_opts \"<options>\" (the dir is named from them)"; then
            mkdir -p "${corpus}"
            log "generating noises and impulse responses for the augmented view in ${corpus} (log: ${corpus}/make.log)"
            # shellcheck disable=SC2086
            ${python} -m espnet_trinet.bin.make_augmentation_corpus --output_dir "${corpus}" --fs "${fs}" \
                ${augmentation_corpus_opts} > "${corpus}/make.log" 2>&1 \
                || { log "generating the augmentation corpus failed, see ${corpus}/make.log:"; tail -n 5 "${corpus}/make.log"; exit 1; }
            mark_done "${corpus}/.stage.done"
        fi
        rir=${rir:-${corpus}/rir.scp}
        noise=${noise:-${corpus}/noise.scp}
    fi
    if [ "${method_needs_rir}" = true ]; then
        source_opts+=(--view_conf "augmentation.reverb.rir_scp=${rir}")
        source_settings+=(--file "rir_scp=${rir}")
    fi
    if [ "${method_needs_noise}" = true ]; then
        source_opts+=(--view_conf "augmentation.background_noise.noise_scp=${noise}")
        source_settings+=(--file "noise_scp=${noise}")
    fi
}

# prepare_sources <name>: what the method's target sources need before it pretrains - the frozen
# teacher's dumped targets, k-means labels, an augmented view's noises - and sets source_opts (its
# trinet_train options) and source_settings (what its settings record of them).
prepare_sources() {
    local name=$1 source var
    eval "$(${python} -m espnet_trinet.bin.ssl_method_info --config "${method_config[${name}]}" \
        "${recipe_target_opts[@]}" --ssl_args "${ssl_args}")"
    source_opts=() source_settings=()
    for source in ${method_frozen_sources}; do
        var="method_frozen_${source}"
        local mode_var="${var}_mode" projector_var="${var}_projector" key_var="${var}_data_key" conf_var="${var}_conf"
        frozen_targets_opts "${source}" "${!mode_var}" "${!projector_var}" "${!key_var}" "${!conf_var}"
    done
    for source in ${method_label_sources}; do
        var="method_labels_${source}"
        local f="${var}_features" k="${var}_num_classes" key="${var}_data_key" m="${var}_feature_method" l="${var}_feature_layer"
        kmeans_label_opts "${source}" "${!f}" "${!k}" "${!key}" "${!m}" "${!l}" "${method_config[${name}]}"
    done
    augmentation_list_opts
}

# ---------------------------------------------------------------- stage 7
if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
    log "Stage 7: pretraining of the methods without a frozen teacher: ${independent_methods[*]:-none}"
    for name in "${independent_methods[@]}"; do
        prepare_sources "${name}"
        pretrain_method "${name}" "${source_opts[@]}"
        source_settings=()
    done
fi

# ---------------------------------------------------------------- stage 8
if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ]; then
    log "Stage 8: CTC fine-tuning of ${independent_methods[*]:-no method} (the baselines;" \
        "${teacher_method:-none} is the frozen teacher of ${teacher_methods[*]:-no method})"
    for name in "${independent_methods[@]}"; do
        finetune_method "${name}"
    done
    if [ "${scratch_baseline}" = true ]; then
        log "Stage 8: the same CTC fine-tuning from random init (no pretraining) -> $(asr_dir scratch)"
        run_asr "$(asr_dir scratch)" --stage 10 --stop_stage 11
    fi
fi

# ---------------------------------------------------------------- stage 9
if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ]; then
    log "Stage 9: pretraining of the methods with a frozen teacher: ${teacher_methods[*]:-none}"
    for name in "${teacher_methods[@]}"; do
        log "${name}: frozen teacher ${teacher_model} (${method_labels[${name}]})"
        for file in "${teacher_model}" "$(dirname "${teacher_model}")/config.yaml"; do
            [ -f "${file}" ] || { log "the frozen teacher's ${file} is missing: stage 8 makes it, run stage 8 first"; exit 1; }
        done
        prepare_sources "${name}"
        pretrain_method "${name}" "${source_opts[@]}"
        source_settings=()
    done
fi

# ---------------------------------------------------------------- stage 10
if [ "${stage}" -le 10 ] && [ "${stop_stage}" -ge 10 ]; then
    log "Stage 10: CTC fine-tuning of the methods with a frozen teacher: ${teacher_methods[*]:-none}"
    for name in "${teacher_methods[@]}"; do
        finetune_method "${name}"
    done
fi

# ---------------------------------------------------------------- stage 11
# The table of this run goes under exp/ (as ESPnet's recipes do); the recipe's RESULTS.md is the
# curated record, copied from it with the command and code revision that made it.
results="${expdir}/RESULTS.md"
if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 11 ]; then
    log "Stage 11: decoding and scoring of ${test_sets}: ${asr_models}" \
        "(greedy CTC$("${use_lm}" && echo "; and with the LM ${lm_exp}, ${lm_inference_config}"))"
    for model in ${asr_models}; do
        run_asr "$(asr_dir "${model}")" --stage 12 --stop_stage 13 --use_lm false \
            --inference_config "${inference_config}" --inference_tag "${greedy_decode_dir}"
        if "${use_lm}"; then
            run_asr "$(asr_dir "${model}")" --stage 12 --stop_stage 13 --use_lm true \
                --inference_config "${lm_inference_config}" --inference_tag "${lm_decode_dir}"
        fi
    done
    method_labels[scratch]="no pretraining"
    model_opts=(--decoding "greedy CTC=${greedy_decode_dir}")
    "${use_lm}" && model_opts+=(--decoding "CTC + LM=${lm_decode_dir}")
    for model in ${asr_models}; do
        model_opts+=(--model "${method_labels[${model}]}=$(asr_dir "${model}")")
    done
    notes=()
    for name in "${methods[@]}"; do
        notes+=(--note "pretraining of ${name}: ${method_config[${name}]} ${method_args[${name}]} (set ${ssl_train_set}) -> ${expdir}/ssl_${method_dir[${name}]}")
    done
    lm_note="no LM (--use_lm false)"
    if "${use_lm}"; then
        ppl=$(cat "${lm_exp}"/perplexity_*/ppl 2> /dev/null | head -n 1)
        lm_note="LM ${lm_exp} (${lm_config:-lm_train defaults} ${lm_args}; text $(lm_texts);"
        lm_note+=" perplexity ${ppl:-unknown} on $(basename "$(dirname "${dumpdir}/raw/${test_sets%% *}/text")"))"
        lm_note+=", decoding ${lm_inference_config}"
    fi
    ${python} -m espnet_trinet.bin.make_results --output "${results}" --test_sets "${test_sets}" \
        "${model_opts[@]}" --command "${recipe_command}" --title "$(basename "$(dirname "${PWD}")") $(basename "${PWD}")" \
        "${notes[@]}" \
        --note "fine-tuning (every model the same): ${asr_config} ${asr_args} (set ${asr_train_set}), checkpoint ${inference_asr_model}" \
        --note "greedy CTC decoding: ${inference_config:-defaults}; ${lm_note}" \
        --note "frozen teacher of ${teacher_methods[*]:-no method}: ${teacher_model:-none}" \
        > "${expdir}/make_results.log"
    log "wrote ${results}"
    cat "${results}"
fi

# ---------------------------------------------------------------- stage 12
if [ "${stage}" -le 12 ] && [ "${stop_stage}" -ge 12 ]; then
    log "Stage 12: packing the SSL and ASR models (espnet2.bin.pack)"
    for name in "${methods[@]}"; do
        ssl_dir="${expdir}/ssl_${method_dir[${name}]}"
        packed="${ssl_dir}/ssl_${method_dir[${name}]}_${ssl_init_model%.pth}.zip"
        if needs_run "${packed%.zip}.done" "packing of ${packed}" --file "ssl_model=${ssl_dir}/${ssl_init_model}" \
                --file "ssl_config=${ssl_dir}/config.yaml" --file "feats_stats=${ssl_stats_dir}/train/feats_stats.npz" \
                --clear "${packed}"; then
            # A temporary name first: the zip exists only when it is complete.
            ${python} -m espnet2.bin.pack ssl --ssl_train_config "${ssl_dir}/config.yaml" \
                --ssl_model_file "${ssl_dir}/${ssl_init_model}" \
                --option "${ssl_stats_dir}/train/feats_stats.npz" \
                --outpath "${packed%.zip}.partial.zip" > "${ssl_dir}/pack.log" 2>&1 \
                || { log "packing failed, see ${ssl_dir}/pack.log"; exit 1; }
            mv "${packed%.zip}.partial.zip" "${packed}"
            mark_done "${packed%.zip}.done"
        fi
    done
    for model in ${asr_models}; do
        run_asr "$(asr_dir "${model}")" --stage 14 --stop_stage 14
    done
    ls -l "${expdir}"/*/*.zip
fi

log "Successfully finished stages ${stage}-${stop_stage}"
