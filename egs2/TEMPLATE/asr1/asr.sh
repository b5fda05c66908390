#!/usr/bin/env bash
# CTC fine-tuning and evaluation with ESPnet's own ASR task, numbered like ESPnet's
# egs2/TEMPLATE/asr1/asr.sh:
#    5 token list   10 collect stats   11 train   12 decode   13 score   14 pack
# Input: formatted data dirs ${dumpdir}/raw/<set> (wav.scp + text), as written by
# stages 3-4 of ../trinet1/trinet.sh or by espnet_trinet.bin.format_datadir/filter_datadir.
# The model is a plain ESPnet ASR model (espnet2.bin.asr_train), optionally with its
# encoder initialised from a pretrained model (--pretrained_model <pth>:encoder:encoder).
set -euo pipefail

template_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
. "${template_dir}/utils/log.sh"
# shellcheck disable=SC1091
. "${template_dir}/utils/done_marker.sh"

# ---------------------------------------------------------------- options
stage=5                 # first stage to run
stop_stage=14           # last stage
nj=2                    # parallel jobs for collect stats
inference_nj=2          # parallel decoding jobs
ngpu=0                  # GPUs per node for training (0 = CPU)
num_nodes=1             # nodes for training (Slurm: slurm.pl in cmd.sh)
python=python3
train_cmd="${template_dir}/utils/run.pl"   # job backends (cmd.sh sets them)
cuda_cmd="${template_dir}/utils/run.pl"
decode_cmd="${template_dir}/utils/run.pl"
dumpdir=dump
expdir=exp
train_set=              # labelled training set (${dumpdir}/raw/<name>)
valid_set=              # validation set
test_sets=              # sets to decode and score, space separated
lang=en
token_type=char         # char or bpe
nbpe=30                 # bpe: vocabulary size
bpemode=unigram         # bpe: unigram or bpe
bpe_train_text=         # bpe: text to train sentencepiece on (default: the train set's text)
token_listdir=data/token_list
asr_config=             # ESPnet ASR training config (yaml)
asr_args=               # extra options for espnet2.bin.asr_train
asr_tag=                # exp/asr_<tag> (default: the config's name)
asr_exp=                # or the experiment dir itself
asr_stats_dir=          # collect-stats dir (default: ${expdir}/asr_stats_<token>)
pretrained_model=       # e.g. exp/ssl_data2vec/valid.loss.ave.pth:encoder:encoder
ignore_init_mismatch=false
feats_normalize=global_mvn  # global_mvn (stats from stage 10) or utterance_mvn
inference_config=       # decoding config (greedy CTC: beam_size 1, ctc_weight 1)
inference_args=         # extra options for espnet2.bin.asr_inference
inference_tag=          # decode dir name (default: <config name>_asr_model_<checkpoint>, as ESPnet)
inference_asr_model=valid.cer_ctc.ave.pth  # which checkpoint of ${asr_exp} to decode and pack

help_message=$(cat << EOF
Usage: $0 --train_set <set> --valid_set <set> --test_sets "<sets>" --asr_config <yaml> [options]

CTC fine-tuning with ESPnet's ASR task, in ESPnet asr.sh numbering.
Data must be formatted already: ${dumpdir}/raw/<set>/{wav.scp,text}.

Options:
  --stage / --stop_stage    first / last stage (${stage} / ${stop_stage})
  --nj / --inference_nj     collect-stats jobs / decoding jobs (${nj} / ${inference_nj})
  --ngpu / --num_nodes      GPUs per node / nodes for training (${ngpu} / ${num_nodes})
  --token_type              char or bpe (${token_type}); --nbpe ${nbpe}, --bpemode ${bpemode}
  --asr_config / --asr_args training config / extra espnet2.bin.asr_train options
  --asr_tag / --asr_exp     experiment name (exp/asr_<tag>) or dir
  --pretrained_model        <pth>:<src>:<dst> for --init_param (e.g. ssl.pth:encoder:encoder)
  --feats_normalize         global_mvn or utterance_mvn (${feats_normalize})
  --inference_config / --inference_args / --inference_tag
  --inference_asr_model     checkpoint to decode and pack (${inference_asr_model})

Stages:
  5 token list (char, or sentencepiece bpe)   12 decode test sets (espnet2.bin.asr_inference)
  10 collect feature statistics               13 score: WER and CER
  11 train (espnet2.bin.launch + asr_train)   14 pack the model (espnet2.bin.pack asr)
EOF
)
# shellcheck disable=SC1091
. "${template_dir}/utils/parse_options.sh"

for var in train_set valid_set; do
    if [ -z "${!var}" ]; then
        log "--${var} is required (see --help)"
        exit 1
    fi
done
export PYTHON="${python}"  # the interpreter utils/run.pl and slurm.pl start jobs with

data_feats="${dumpdir}/raw"
if [ "${token_type}" = char ]; then
    token_dir="${token_listdir}/char"
elif [ "${token_type}" = bpe ]; then
    token_dir="${token_listdir}/bpe_${bpemode}${nbpe}"
else
    log "--token_type ${token_type}: use char or bpe"
    exit 1
fi
token_list="${token_dir}/tokens.txt"
bpemodel="${token_dir}/bpe.model"
bpe_train_text=${bpe_train_text:-${data_feats}/${train_set}/text}
bpe_opts=()
[ "${token_type}" = bpe ] && bpe_opts=(--bpemodel "${bpemodel}")

asr_stats_dir=${asr_stats_dir:-${expdir}/asr_stats_${token_type}}
if [ -z "${asr_exp}" ]; then
    if [ -z "${asr_tag}" ]; then
        asr_tag=$(basename "${asr_config:-asr}" .yaml)
    fi
    asr_exp="${expdir}/asr_${asr_tag}"
fi
if [ -z "${inference_tag}" ]; then
    inference_tag="$(basename "${inference_config:-decode}" .yaml)_asr_model_${inference_asr_model%.pth}"
fi

# Data options shared by collect stats and training.
data_opts=(
    --token_type "${token_type}" --token_list "${token_list}" "${bpe_opts[@]}"
    --train_data_path_and_name_and_type "${data_feats}/${train_set}/wav.scp,speech,sound"
    --train_data_path_and_name_and_type "${data_feats}/${train_set}/text,text,text"
    --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/wav.scp,speech,sound"
    --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/text,text,text"
)
config_opts=()
[ -n "${asr_config}" ] && config_opts=(--config "${asr_config}")

# ---------------------------------------------------------------- stage 5
if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    log "Stage 5: ${token_type} token list from ${bpe_train_text} -> ${token_list}"
    if needs_run "${token_dir}/.done" "token list"; then
        mkdir -p "${token_dir}"
        if [ "${token_type}" = bpe ]; then
            cut -f 2- -d " " "${bpe_train_text}" > "${token_dir}/train.txt"
            ${python} -m espnet2.bin.spm_train --input="${token_dir}/train.txt" \
                --vocab_size="${nbpe}" --model_type="${bpemode}" --model_prefix="${token_dir}/bpe" \
                --character_coverage=1.0 --input_sentence_size=100000000 > "${token_dir}/spm_train.log" 2>&1 \
                || { log "sentencepiece failed, see ${token_dir}/spm_train.log"; exit 1; }
        fi
        # <blank> must be id 0 for ESPnet's CTC; <sos/eos> last, as asr.sh does.
        ${python} -m espnet2.bin.tokenize_text --token_type "${token_type}" "${bpe_opts[@]}" \
            --input "${bpe_train_text}" --output "${token_list}" --field 2- --cleaner none \
            --write_vocabulary true --add_symbol "<blank>:0" --add_symbol "<unk>:1" \
            --add_symbol "<sos/eos>:-1" > "${token_dir}/tokenize.log" 2>&1 \
            || { log "token list failed, see ${token_dir}/tokenize.log"; exit 1; }
        log "$(wc -l < "${token_list}") tokens in ${token_list}"
        touch "${token_dir}/.done"
    fi
fi

# ---------------------------------------------------------------- stage 10
if [ "${stage}" -le 10 ] && [ "${stop_stage}" -ge 10 ]; then
    log "Stage 10: feature statistics of ${train_set} / ${valid_set} -> ${asr_stats_dir}"
    if needs_run "${asr_stats_dir}/.done" "ASR statistics"; then
        logdir="${asr_stats_dir}/logdir"
        mkdir -p "${logdir}"
        # Split the keys into nj parts (by utterance), one collect-stats job each, then sum.
        for dset in train valid; do
            src_set=${train_set}; [ "${dset}" = valid ] && src_set=${valid_set}
            ${python} -m espnet_trinet.bin.datadir split --per_utt "${data_feats}/${src_set}" "${nj}" > /dev/null
        done
        # After a kill, only the jobs that had not finished run again (utils/run_once.sh).
        # shellcheck disable=SC2086
        ${train_cmd} JOB=1:"${nj}" "${logdir}/stats.JOB.log" \
            "${template_dir}/utils/run_once.sh" "${logdir}/stats.JOB/.done_split${nj}" \
            ${python} -m espnet2.bin.asr_train --collect_stats true "${config_opts[@]}" \
                "${data_opts[@]}" --normalize none --ngpu 0 --num_workers 0 \
                --train_shape_file "${data_feats}/${train_set}/split${nj}utt/JOB/wav.scp" \
                --valid_shape_file "${data_feats}/${valid_set}/split${nj}utt/JOB/wav.scp" \
                --output_dir "${logdir}/stats.JOB" ${asr_args} \
            || { log "stage 10 failed, see ${logdir}/stats.*.log"; exit 1; }
        input_dirs=()
        for n in $(seq "${nj}"); do input_dirs+=(--input_dir "${logdir}/stats.${n}"); done
        ${python} -m espnet2.bin.aggregate_stats_dirs "${input_dirs[@]}" --output_dir "${asr_stats_dir}"
        touch "${asr_stats_dir}/.done"
    fi
fi

# ---------------------------------------------------------------- stage 11
if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 11 ]; then
    log "Stage 11: ASR training -> ${asr_exp} (log: ${asr_exp}/train.log)"
    if needs_run "${asr_exp}/.done" "ASR training"; then
        mkdir -p "${asr_exp}"
        init_opts=()
        if [ -n "${pretrained_model}" ]; then
            pth=${pretrained_model%%:*}
            [ -f "${pth}" ] || { log "--pretrained_model: ${pth} does not exist"; exit 1; }
            init_opts=(--init_param "${pretrained_model}" --ignore_init_mismatch "${ignore_init_mismatch}")
        fi
        norm_opts=(--normalize "${feats_normalize}")
        [ "${feats_normalize}" = global_mvn ] && \
            norm_opts+=(--normalize_conf "stats_file=${asr_stats_dir}/train/feats_stats.npz")
        if [ -n "${pretrained_model}" ]; then
            # Before training, with asr_train's own options: a config that does not fit the
            # checkpoint (blocks, widths, frame shift, normalisation, ...) fails here naming the
            # setting; ESPnet alone would fail late, or leave missing blocks random silently.
            check_log="${asr_exp}/check_init_param.log"
            # shellcheck disable=SC2086
            ${python} -m espnet_trinet.bin.check_init_param "${config_opts[@]}" "${data_opts[@]}" \
                "${norm_opts[@]}" "${init_opts[@]}" ${asr_args} > "${check_log}" 2>&1 \
                || { log "stage 11: the fine-tuning config does not fit --pretrained_model (${check_log}):"
                     sed -n '/ERROR/,$p' "${check_log}"; exit 1; }
            if grep -q "ignore_init_mismatch true:" "${check_log}"; then
                log "warning: --pretrained_model fits only partly, the rest stays random; see ${check_log}"
            fi
        fi
        # The launcher runs one process (CPU, 1 GPU), DDP over ngpu GPUs, or srun across
        # nodes when cuda_cmd is slurm.pl. --resume true: a killed run continues from
        # ${asr_exp}/checkpoint.pth (repaired first if the kill came while ESPnet wrote it).
        if [ -f "${asr_exp}/checkpoint.pth" ]; then
            ${python} -m espnet_trinet.bin.repair_checkpoint "${asr_exp}"
        fi
        # shellcheck disable=SC2086
        ${python} -m espnet2.bin.launch --cmd "${cuda_cmd}" \
            --log "${asr_exp}/train.log" --ngpu "${ngpu}" --num_nodes "${num_nodes}" \
            --init_file_prefix "${asr_exp}/.dist_init_" --multiprocessing_distributed true -- \
            ${python} -m espnet2.bin.asr_train "${config_opts[@]}" "${data_opts[@]}" "${norm_opts[@]}" \
                --train_shape_file "${asr_stats_dir}/train/speech_shape" \
                --valid_shape_file "${asr_stats_dir}/valid/speech_shape" \
                "${init_opts[@]}" --resume true --output_dir "${asr_exp}" ${asr_args} \
            || { log "stage 11 failed, see ${asr_exp}/train.log"; tail -n 5 "${asr_exp}/train.log"; exit 1; }
        [ -f "${asr_exp}/${inference_asr_model}" ] || \
            { log "training ended without ${asr_exp}/${inference_asr_model}; set --inference_asr_model"; exit 1; }
        touch "${asr_exp}/.done"
    fi
fi

# ---------------------------------------------------------------- stage 12
if [ "${stage}" -le 12 ] && [ "${stop_stage}" -ge 12 ]; then
    log "Stage 12: decoding ${test_sets} with ${asr_exp}/${inference_asr_model}"
    inference_opts=()
    [ -n "${inference_config}" ] && inference_opts=(--config "${inference_config}")
    for dset in ${test_sets}; do
        decode_dir="${asr_exp}/${inference_tag}/${dset}"
        if needs_run "${decode_dir}/.done" "decoding of ${dset}"; then
            logdir="${decode_dir}/logdir"
            mkdir -p "${logdir}"
            ${python} -m espnet_trinet.bin.datadir split --per_utt "${data_feats}/${dset}" "${inference_nj}" > /dev/null
            # After a kill, only the jobs that had not finished decode again; the marker names
            # the split, so that a changed --inference_nj decodes every part again.
            # shellcheck disable=SC2086
            ${decode_cmd} JOB=1:"${inference_nj}" "${logdir}/asr_inference.JOB.log" \
                "${template_dir}/utils/run_once.sh" "${logdir}/output.JOB/.done_split${inference_nj}" \
                ${python} -m espnet2.bin.asr_inference --ngpu 0 --batch_size 1 "${inference_opts[@]}" \
                    --data_path_and_name_and_type "${data_feats}/${dset}/wav.scp,speech,sound" \
                    --key_file "${data_feats}/${dset}/split${inference_nj}utt/JOB/wav.scp" \
                    --asr_train_config "${asr_exp}/config.yaml" \
                    --asr_model_file "${asr_exp}/${inference_asr_model}" \
                    --output_dir "${logdir}/output.JOB" ${inference_args} \
                || { log "stage 12 failed, see ${logdir}/asr_inference.*.log"; exit 1; }
            for n in $(seq "${inference_nj}"); do
                cat "${logdir}/output.${n}/1best_recog/text"
            done | LC_ALL=C sort > "${decode_dir}/text"
            touch "${decode_dir}/.done"
        fi
    done
fi

# ---------------------------------------------------------------- stage 13
if [ "${stage}" -le 13 ] && [ "${stop_stage}" -ge 13 ]; then
    log "Stage 13: scoring (WER, CER) of ${test_sets}"
    for dset in ${test_sets}; do
        decode_dir="${asr_exp}/${inference_tag}/${dset}"
        ${python} -m espnet_trinet.bin.score_asr --ref "${data_feats}/${dset}/text" \
            --hyp "${decode_dir}/text" --output_dir "${decode_dir}"
        head -n 1 "${decode_dir}/score_wer/result.txt" "${decode_dir}/score_cer/result.txt"
    done
fi

# ---------------------------------------------------------------- stage 14
if [ "${stage}" -le 14 ] && [ "${stop_stage}" -ge 14 ]; then
    packed="${asr_exp}/${asr_exp##*/}_${inference_asr_model%.pth}.zip"
    log "Stage 14: packing ${asr_exp} -> ${packed}"
    if needs_run "${packed}" "packing"; then
        pack_opts=()
        [ "${token_type}" = bpe ] && pack_opts+=(--option "${bpemodel}")
        [ "${feats_normalize}" = global_mvn ] && pack_opts+=(--option "${asr_stats_dir}/train/feats_stats.npz")
        # Written under a temporary name first: the zip exists only when complete.
        ${python} -m espnet2.bin.pack asr --asr_train_config "${asr_exp}/config.yaml" \
            --asr_model_file "${asr_exp}/${inference_asr_model}" "${pack_opts[@]}" \
            --outpath "${packed%.zip}.partial.zip" > "${asr_exp}/pack.log" 2>&1 \
            || { log "stage 14 failed, see ${asr_exp}/pack.log"; exit 1; }
        mv "${packed%.zip}.partial.zip" "${packed}"
    fi
fi

log "Successfully finished asr.sh stages ${stage}-${stop_stage} (${asr_exp})"
