#!/usr/bin/env bash
# CTC fine-tuning and evaluation with ESPnet's own ASR and LM tasks, numbered like ESPnet's
# egs2/TEMPLATE/asr1/asr.sh:
#    5 token list   6 LM statistics   7 LM training   8 LM perplexity   9 n-gram LM
#   10 ASR statistics   11 ASR training   12 decoding (greedy, or shallow fusion with the LM)
#   13 scoring   14 packing
# Every stage that writes something records the settings it was made with (done_marker.sh): a
# re-run skips it only when they are the same, and otherwise stops saying what changed and the fix.
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
# shellcheck disable=SC1091
. "${template_dir}/utils/exp_names.sh"

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
lang=en                 # names the token list and statistics dirs (data/en_token_list, asr_stats_raw_en_char)
force=false             # true: redo a stage whose output was made with other settings (it is removed first)
token_type=char         # char or bpe
nbpe=30                 # bpe: vocabulary size
bpemode=unigram         # bpe: unigram or bpe
bpe_train_text=         # bpe: text to train sentencepiece on (default: the train set's text)
token_listdir=          # default: data/${lang}_token_list, as ESPnet
use_lm=true             # stages 6-8, and shallow fusion in stage 12 (weight: lm_weight of --inference_config)
lm_config=              # ESPnet LM training config (espnet2.bin.lm_train)
lm_args=                # extra options for espnet2.bin.lm_train
lm_tag=                 # exp/lm_<tag> (default: <config name>_<lang>_<token type><args>, as ESPnet)
lm_exp=                 # or the LM experiment dir itself
lm_stats_dir=           # default: ${expdir}/lm_stats_<lang>_<token type>
lm_train_text=          # LM training text(s), Kaldi "id sentence" lines (default: the train set's text)
lm_dev_text=            # LM validation text (default: the valid set's text)
lm_test_text=           # perplexity of stage 8 on this text (default: the first test set's text)
inference_lm=valid.loss.ave.pth  # the LM checkpoint decoding uses
use_ngram=false         # stage 9: a token n-gram (KenLM's lmplz; tools/install_kenlm.sh builds it)
ngram_num=3             # its order
ngram_exp=              # default: ${expdir}/ngram_<lang>_<token type>
gpu_inference=          # decode on a GPU (default: true when --ngpu > 0)
asr_config=             # ESPnet ASR training config (yaml)
asr_args=               # extra options for espnet2.bin.asr_train
asr_tag=                # exp/asr_<tag> (default: the config's name)
asr_exp=                # or the experiment dir itself
asr_stats_dir=          # collect-stats dir (default: ${expdir}/asr_stats_<token>)
pretrained_model=       # e.g. exp/ssl_data2vec/valid.loss.ave.pth:encoder:encoder
ignore_init_mismatch=false
feats_normalize=global_mvn  # global_mvn (stats from stage 10) or utterance_mvn
inference_config=       # decoding config (greedy CTC: beam_size 1, ctc_weight 1; with an LM: beam_size, lm_weight)
inference_args=         # extra options for espnet2.bin.asr_inference
inference_tag=          # decode dir name (default: <config>[_lm_<lm dir>_<lm ckpt>]_asr_model_<ckpt>, as ESPnet)
inference_asr_model=valid.cer_ctc.ave.pth  # which checkpoint of ${asr_exp} to decode and pack

help_message=$(cat << EOF
Usage: $0 --train_set <set> --valid_set <set> --test_sets "<sets>" --asr_config <yaml> [options]

CTC fine-tuning with ESPnet's ASR task, in ESPnet asr.sh numbering.
Data must be formatted already: ${dumpdir}/raw/<set>/{wav.scp,text}.

Options:
  --stage / --stop_stage    first / last stage (${stage} / ${stop_stage})
  --nj / --inference_nj     collect-stats jobs / decoding jobs (${nj} / ${inference_nj})
  --ngpu / --num_nodes      GPUs per node / nodes for training (${ngpu} / ${num_nodes})
  --lang                    language tag of the token list and statistics dirs (${lang})
  --force                   redo stages whose output was made with other settings (${force})
  --token_type              char or bpe (${token_type}); --nbpe ${nbpe}, --bpemode ${bpemode}
  --use_lm                  train an LM (stages 6-8) and decode with it (${use_lm})
  --lm_config / --lm_args / --lm_tag / --lm_exp   the LM (espnet2.bin.lm_train)
  --lm_train_text / --lm_dev_text / --lm_test_text   LM texts (default: train / valid / first test set)
  --inference_lm            LM checkpoint used in decoding (${inference_lm})
  --use_ngram / --ngram_num a KenLM n-gram (stage 9; needs lmplz, see README) (${use_ngram})
  --asr_config / --asr_args training config / extra espnet2.bin.asr_train options
  --asr_tag / --asr_exp     experiment name (exp/asr_<tag>) or dir
  --pretrained_model        <pth>:<src>:<dst> for --init_param (e.g. ssl.pth:encoder:encoder)
  --feats_normalize         global_mvn or utterance_mvn (${feats_normalize})
  --inference_config / --inference_args / --inference_tag
  --inference_asr_model     checkpoint to decode and pack (${inference_asr_model})
  --gpu_inference           decode on GPUs (default: true when --ngpu > 0)

Stages:
  5 token list (char, or sentencepiece bpe)   10 collect feature statistics
  6 LM statistics (lm_train --collect_stats)  11 train (espnet2.bin.launch + asr_train)
  7 LM training (espnet2.bin.lm_train)        12 decode test sets (espnet2.bin.asr_inference)
  8 LM perplexity on --lm_test_text           13 score: WER and CER
  9 n-gram LM (--use_ngram true)              14 pack the model (espnet2.bin.pack asr)
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
token_listdir=${token_listdir:-data/${lang}_token_list}
case "${token_type}" in
    char|bpe) ;;
    *) log "--token_type ${token_type}: use char or bpe"; exit 1 ;;
esac
token_dir=$(token_dir "${token_listdir}" "${token_type}" "${bpemode}" "${nbpe}")
token_tag=$(token_tag "${token_type}" "${nbpe}")
token_list="${token_dir}/tokens.txt"
bpemodel="${token_dir}/bpe.model"
bpe_train_text=${bpe_train_text:-${data_feats}/${train_set}/text}
bpe_opts=()
token_settings=(--file "token_list=${token_list}")
if [ "${token_type}" = bpe ]; then
    bpe_opts=(--bpemodel "${bpemodel}")
    token_settings+=(--file "bpe_model=${bpemodel}")
fi

asr_stats_dir=${asr_stats_dir:-${expdir}/asr_stats_raw_${lang}_${token_tag}}
if [ -z "${asr_exp}" ]; then
    if [ -z "${asr_tag}" ]; then
        asr_tag=$(basename "${asr_config:-train}" .yaml)$(args_tag "${asr_args}")
    fi
    asr_exp="${expdir}/asr_${asr_tag}"
fi
# The LM: its texts (Kaldi "id sentence" lines; stage 6 joins them into ${lm_stats_dir}/lm_train.txt).
lm_train_text=${lm_train_text:-${data_feats}/${train_set}/text}
lm_dev_text=${lm_dev_text:-${data_feats}/${valid_set}/text}
lm_test_text=${lm_test_text:-${data_feats}/${test_sets%% *}/text}
lm_stats_dir=${lm_stats_dir:-${expdir}/lm_stats_${lang}_${token_tag}}
if [ -z "${lm_exp}" ]; then
    lm_exp="${expdir}/$(lm_dir_name "${lm_config}" "${lang}" "${token_tag}" "${lm_args}")"
    [ -z "${lm_tag}" ] || lm_exp="${expdir}/lm_${lm_tag}"
fi
ngram_exp=${ngram_exp:-${expdir}/ngram_${lang}_${token_tag}}
if [ -z "${inference_tag}" ]; then
    inference_tag=$(decode_dir_name "${inference_config}" "$("${use_lm}" && echo "${lm_exp}")" \
        "${inference_lm}" "${inference_asr_model}")
    "${use_ngram}" && inference_tag=${inference_tag/_asr_model_/_ngram_${ngram_num}gram_asr_model_}
fi
if [ -z "${gpu_inference}" ]; then
    gpu_inference=false
    [ "${ngpu}" -gt 0 ] && gpu_inference=true
fi

# Data options shared by collect stats and training.
data_opts=(
    --token_type "${token_type}" --token_list "${token_list}" "${bpe_opts[@]}"
    --train_data_path_and_name_and_type "${data_feats}/${train_set}/wav.scp,speech,sound"
    --train_data_path_and_name_and_type "${data_feats}/${train_set}/text,text,text"
    --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/wav.scp,speech,sound"
    --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/text,text,text"
)
data_settings=(--data "train_data=${data_feats}/${train_set}" --data "valid_data=${data_feats}/${valid_set}")
config_opts=()
[ -n "${asr_config}" ] && config_opts=(--config "${asr_config}")
lm_config_opts=()
[ -n "${lm_config}" ] && lm_config_opts=(--config "${lm_config}")

# ---------------------------------------------------------------- stage 5
if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    log "Stage 5: ${token_type} token list from ${bpe_train_text} -> ${token_list}"
    token_opts=(--option "token_type=${token_type}" --file "text=${bpe_train_text}")
    [ "${token_type}" = bpe ] && token_opts+=(--option "nbpe=${nbpe}" --option "bpemode=${bpemode}")
    if needs_run "${token_dir}/.done" "the token list ${token_list}" "${token_opts[@]}" \
            --clear "${token_dir}" --fix "--token_listdir <dir>"; then
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
        mark_done "${token_dir}/.done"
    fi
fi

# ---------------------------------------------------------------- stage 6
if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
    if "${use_lm}"; then
        log "Stage 6: LM statistics of ${lm_train_text} / ${lm_dev_text} -> ${lm_stats_dir}"
        text_settings=()
        n=0
        for text in ${lm_train_text}; do
            [ -f "${text}" ] || { log "--lm_train_text: ${text} does not exist"; exit 1; }
            n=$((n + 1))
            text_settings+=(--file "lm_train_text${n}=${text}")
        done
        [ -f "${lm_dev_text}" ] || { log "--lm_dev_text: ${lm_dev_text} does not exist"; exit 1; }
        if needs_run "${lm_stats_dir}/.done" "LM statistics" "${text_settings[@]}" \
                --file "lm_dev_text=${lm_dev_text}" "${token_settings[@]}" \
                --clear "${lm_stats_dir}" --fix "--lm_stats_dir <dir>"; then
            # One text; each source's ids get its file name as a suffix, so that two sources
            # with the same ids (two corpora's "text") stay distinct, as ESPnet's asr.sh does.
            lm_train="${lm_stats_dir}/lm_train.txt"
            mkdir -p "${lm_stats_dir}/logdir"
            for text in ${lm_train_text}; do
                suffix=$(basename "${text}" | sed 's/text//')
                awk -v suffix="${suffix:+_${suffix}}" 'NF > 1 { $1 = $1 suffix; print }' "${text}"
            done > "${lm_train}.tmp"
            mv "${lm_train}.tmp" "${lm_train}"
            log "$(wc -l < "${lm_train}") sentences of LM training text in ${lm_train}"
            logdir="${lm_stats_dir}/logdir"
            # Up to nj parts of each text (line by line, round robin), one collect-stats job each,
            # then summed; the key files of a job are its parts.
            lm_nj=$(( $(wc -l < "${lm_dev_text}") < nj ? $(wc -l < "${lm_dev_text}") : nj ))
            rm -f "${logdir}"/train.* "${logdir}"/dev.*
            awk -v n="${lm_nj}" -v out="${logdir}/train" '{ print > (out "." (NR - 1) % n + 1) }' "${lm_train}"
            awk -v n="${lm_nj}" -v out="${logdir}/dev" '{ print > (out "." (NR - 1) % n + 1) }' "${lm_dev_text}"
            # shellcheck disable=SC2086
            ${train_cmd} JOB=1:"${lm_nj}" "${logdir}/stats.JOB.log" \
                "${template_dir}/utils/run_once.sh" "${logdir}/stats.JOB/.done_split${lm_nj}" \
                ${python} -m espnet2.bin.lm_train --collect_stats true --use_preprocessor true \
                    "${lm_config_opts[@]}" --token_type "${token_type}" --token_list "${token_list}" \
                    "${bpe_opts[@]}" --ngpu 0 --num_workers 0 \
                    --train_data_path_and_name_and_type "${lm_train},text,text" \
                    --valid_data_path_and_name_and_type "${lm_dev_text},text,text" \
                    --train_shape_file "${logdir}/train.JOB" --valid_shape_file "${logdir}/dev.JOB" \
                    --output_dir "${logdir}/stats.JOB" ${lm_args} \
                || { log "stage 6 failed, see ${logdir}/stats.*.log"; exit 1; }
            input_dirs=()
            for n in $(seq "${lm_nj}"); do input_dirs+=(--input_dir "${logdir}/stats.${n}"); done
            ${python} -m espnet2.bin.aggregate_stats_dirs "${input_dirs[@]}" --output_dir "${lm_stats_dir}"
            # The vocabulary size as the last dimension: what batch_bins counts (as ESPnet).
            for dset in train valid; do
                awk -v N="$(wc -l < "${token_list}")" '{ print $0 "," N }' "${lm_stats_dir}/${dset}/text_shape" \
                    > "${lm_stats_dir}/${dset}/text_shape.${token_type}"
            done
            mark_done "${lm_stats_dir}/.done"
        fi
    else
        log "Stage 6: no LM (--use_lm false)"
    fi
fi

# ---------------------------------------------------------------- stage 7
if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ] && "${use_lm}"; then
    log "Stage 7: LM training -> ${lm_exp} (log: ${lm_exp}/train.log)"
    lm_settings=(--option "lm_args=${lm_args}" --file "lm_train_text=${lm_stats_dir}/lm_train.txt"
                 --file "lm_dev_text=${lm_dev_text}" "${token_settings[@]}")
    [ -n "${lm_config}" ] && lm_settings+=(--file "lm_config=${lm_config}")
    if needs_run "${lm_exp}/.done" "LM training" "${lm_settings[@]}" --clear "${lm_exp}" --fix "--lm_tag <tag>"; then
        [ -f "${lm_stats_dir}/train/text_shape.${token_type}" ] || \
            { log "no LM statistics in ${lm_stats_dir}: run stage 6 first"; exit 1; }
        mkdir -p "${lm_exp}"
        if [ -f "${lm_exp}/checkpoint.pth" ]; then
            ${python} -m espnet_trinet.bin.repair_checkpoint "${lm_exp}"
        fi
        # shellcheck disable=SC2086
        ${python} -m espnet2.bin.launch --cmd "${cuda_cmd}" \
            --log "${lm_exp}/train.log" --ngpu "${ngpu}" --num_nodes "${num_nodes}" \
            --init_file_prefix "${lm_exp}/.dist_init_" --multiprocessing_distributed true -- \
            ${python} -m espnet2.bin.lm_train --ngpu "${ngpu}" --use_preprocessor true "${lm_config_opts[@]}" \
                --token_type "${token_type}" --token_list "${token_list}" "${bpe_opts[@]}" \
                --train_data_path_and_name_and_type "${lm_stats_dir}/lm_train.txt,text,text" \
                --train_shape_file "${lm_stats_dir}/train/text_shape.${token_type}" \
                --valid_data_path_and_name_and_type "${lm_dev_text},text,text" \
                --valid_shape_file "${lm_stats_dir}/valid/text_shape.${token_type}" \
                --resume true --output_dir "${lm_exp}" ${lm_args} \
            || { log "stage 7 failed, see ${lm_exp}/train.log"; tail -n 5 "${lm_exp}/train.log"; exit 1; }
        [ -f "${lm_exp}/${inference_lm}" ] || \
            { log "LM training ended without ${lm_exp}/${inference_lm}; set --inference_lm"; exit 1; }
        mark_done "${lm_exp}/.done"
    fi
fi

# ---------------------------------------------------------------- stage 8
if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ] && "${use_lm}"; then
    ppl_dir="${lm_exp}/perplexity_$(basename "$(dirname "${lm_test_text}")")"
    log "Stage 8: LM perplexity on ${lm_test_text} -> ${ppl_dir}"
    if needs_run "${ppl_dir}/.done" "LM perplexity" --file "lm=${lm_exp}/${inference_lm}" \
            --file "text=${lm_test_text}" --clear "${ppl_dir}"; then
        mkdir -p "${ppl_dir}"
        ${python} -m espnet2.bin.lm_calc_perplexity --ngpu 0 --log_base 10 \
            --data_path_and_name_and_type "${lm_test_text},text,text" \
            --train_config "${lm_exp}/config.yaml" --model_file "${lm_exp}/${inference_lm}" \
            --output_dir "${ppl_dir}" > "${ppl_dir}/lm_calc_perplexity.log" 2>&1 \
            || { log "stage 8 failed, see ${ppl_dir}/lm_calc_perplexity.log"; exit 1; }
        mark_done "${ppl_dir}/.done"
    fi
    log "perplexity of ${lm_test_text} per token: $(cat "${ppl_dir}/ppl")"
fi

# ---------------------------------------------------------------- stage 9
if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ]; then
    if "${use_ngram}"; then
        log "Stage 9: ${ngram_num}-gram LM of ${token_type} tokens -> ${ngram_exp}/${ngram_num}gram.bin"
        for tool in lmplz build_binary; do
            command -v "${tool}" > /dev/null || \
                { log "--use_ngram true needs KenLM's ${tool}: run tools/install_kenlm.sh (it builds it into tools/kenlm/bin, which path.sh puts on PATH)"; exit 1; }
        done
        [ -f "${lm_stats_dir}/lm_train.txt" ] || { log "no ${lm_stats_dir}/lm_train.txt: run stage 6 first"; exit 1; }
        if needs_run "${ngram_exp}/.done" "the ${ngram_num}-gram LM" --file "lm_train_text=${lm_stats_dir}/lm_train.txt" \
                "${token_settings[@]}" --option "ngram_num=${ngram_num}" --clear "${ngram_exp}" --fix "--ngram_exp <dir>"; then
            mkdir -p "${ngram_exp}"
            # ESPnet's n-gram scorer queries KenLM with the token list's strings (<space>, bpe
            # pieces), so the n-gram is over the same tokens, not over words.
            ${python} -m espnet2.bin.tokenize_text --token_type "${token_type}" "${bpe_opts[@]}" \
                --input "${lm_stats_dir}/lm_train.txt" --output "${ngram_exp}/lm_train.tokens" --field 2- \
                --cleaner none > "${ngram_exp}/tokenize.log" 2>&1 \
                || { log "stage 9: tokenizing failed, see ${ngram_exp}/tokenize.log"; exit 1; }
            lmplz -S 20% --discount_fallback -o "${ngram_num}" < "${ngram_exp}/lm_train.tokens" \
                > "${ngram_exp}/${ngram_num}gram.arpa" 2> "${ngram_exp}/lmplz.log" \
                || { log "stage 9: lmplz failed, see ${ngram_exp}/lmplz.log"; exit 1; }
            build_binary -s "${ngram_exp}/${ngram_num}gram.arpa" "${ngram_exp}/${ngram_num}gram.bin" \
                > "${ngram_exp}/build_binary.log" 2>&1 \
                || { log "stage 9: build_binary failed, see ${ngram_exp}/build_binary.log"; exit 1; }
            mark_done "${ngram_exp}/.done"
        fi
    else
        log "Stage 9: no n-gram LM (--use_ngram false)"
    fi
fi

# ---------------------------------------------------------------- stage 10
if [ "${stage}" -le 10 ] && [ "${stop_stage}" -ge 10 ]; then
    log "Stage 10: feature statistics of ${train_set} / ${valid_set} -> ${asr_stats_dir}"
    # What the statistics depend on: the frontend (not the rest of the config) and the data.
    if needs_run "${asr_stats_dir}/.done" "ASR statistics" "${data_settings[@]}" "${token_settings[@]}" \
            --keys "frontend=${asr_config:-/dev/null}:frontend,frontend_conf" \
            --clear "${asr_stats_dir}" --fix "--asr_stats_dir <dir>"; then
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
        mark_done "${asr_stats_dir}/.done"
    fi
fi

# ---------------------------------------------------------------- stage 11
if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 11 ]; then
    log "Stage 11: ASR training -> ${asr_exp} (log: ${asr_exp}/train.log)"
    init_opts=()
    train_settings=(--option "asr_args=${asr_args}" --option "feats_normalize=${feats_normalize}"
                    "${data_settings[@]}" "${token_settings[@]}")
    [ -n "${asr_config}" ] && train_settings+=(--file "asr_config=${asr_config}")
    [ "${feats_normalize}" = global_mvn ] && train_settings+=(--file "feats_stats=${asr_stats_dir}/train/feats_stats.npz")
    if [ -n "${pretrained_model}" ]; then
        pth=${pretrained_model%%:*}
        [ -f "${pth}" ] || { log "--pretrained_model: ${pth} does not exist"; exit 1; }
        init_opts=(--init_param "${pretrained_model}" --ignore_init_mismatch "${ignore_init_mismatch}")
        train_settings+=(--option "pretrained_model=${pretrained_model}" --file "pretrained_weights=${pth}"
                         --option "ignore_init_mismatch=${ignore_init_mismatch}")
    fi
    if needs_run "${asr_exp}/.done" "ASR training in ${asr_exp}" "${train_settings[@]}" \
            --clear "${asr_exp}" --fix "--asr_tag <tag>"; then
        mkdir -p "${asr_exp}"
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
                     sed -n '/ERROR/,$p' "${check_log}"
                     # Nothing was trained: the next run, with the config fixed, is a first run.
                     rm -f "${asr_exp}/.settings.yaml"
                     exit 1; }
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
        mark_done "${asr_exp}/.done"
    fi
fi

# ---------------------------------------------------------------- stage 12
if [ "${stage}" -le 12 ] && [ "${stop_stage}" -ge 12 ]; then
    log "Stage 12: decoding ${test_sets} with ${asr_exp}/${inference_asr_model}" \
        "$("${use_lm}" && echo "and the LM ${lm_exp}/${inference_lm}")"
    inference_opts=()
    decode_settings=(--file "asr_model=${asr_exp}/${inference_asr_model}" --option "inference_args=${inference_args}")
    if [ -n "${inference_config}" ]; then
        inference_opts=(--config "${inference_config}")
        decode_settings+=(--file "inference_config=${inference_config}")
    fi
    if "${use_lm}"; then
        inference_opts+=(--lm_train_config "${lm_exp}/config.yaml" --lm_file "${lm_exp}/${inference_lm}")
        decode_settings+=(--file "lm=${lm_exp}/${inference_lm}")
    fi
    if "${use_ngram}"; then
        inference_opts+=(--ngram_file "${ngram_exp}/${ngram_num}gram.bin")
        decode_settings+=(--file "ngram=${ngram_exp}/${ngram_num}gram.bin")
    fi
    decode_jobs=("${decode_cmd}")
    decode_ngpu=0
    if "${gpu_inference}"; then
        decode_jobs=("${cuda_cmd}" --gpu 1)
        decode_ngpu=1
    fi
    for dset in ${test_sets}; do
        decode_dir="${asr_exp}/${inference_tag}/${dset}"
        if needs_run "${decode_dir}/.done" "decoding of ${dset} in ${decode_dir}" "${decode_settings[@]}" \
                --data "test_data=${data_feats}/${dset}" --clear "${decode_dir}" --fix "--inference_tag <tag>"; then
            logdir="${decode_dir}/logdir"
            mkdir -p "${logdir}"
            ${python} -m espnet_trinet.bin.datadir split --per_utt "${data_feats}/${dset}" "${inference_nj}" > /dev/null
            # After a kill, only the jobs that had not finished decode again; the marker names
            # the split, so that a changed --inference_nj decodes every part again.
            # shellcheck disable=SC2086
            "${decode_jobs[@]}" JOB=1:"${inference_nj}" "${logdir}/asr_inference.JOB.log" \
                "${template_dir}/utils/run_once.sh" "${logdir}/output.JOB/.done_split${inference_nj}" \
                ${python} -m espnet2.bin.asr_inference --ngpu "${decode_ngpu}" --batch_size 1 "${inference_opts[@]}" \
                    --data_path_and_name_and_type "${data_feats}/${dset}/wav.scp,speech,sound" \
                    --key_file "${data_feats}/${dset}/split${inference_nj}utt/JOB/wav.scp" \
                    --asr_train_config "${asr_exp}/config.yaml" \
                    --asr_model_file "${asr_exp}/${inference_asr_model}" \
                    --output_dir "${logdir}/output.JOB" ${inference_args} \
                || { log "stage 12 failed, see ${logdir}/asr_inference.*.log"; exit 1; }
            for n in $(seq "${inference_nj}"); do
                cat "${logdir}/output.${n}/1best_recog/text"
            done | LC_ALL=C sort > "${decode_dir}/text"
            mark_done "${decode_dir}/.done"
        fi
    done
fi

# ---------------------------------------------------------------- stage 13
if [ "${stage}" -le 13 ] && [ "${stop_stage}" -ge 13 ]; then
    log "Stage 13: scoring (WER, CER) of ${test_sets} (${asr_exp}/${inference_tag})"
    for dset in ${test_sets}; do
        decode_dir="${asr_exp}/${inference_tag}/${dset}"
        [ -f "${decode_dir}/.done" ] || { log "${decode_dir} is not decoded: run stage 12 first"; exit 1; }
        ${python} -m espnet_trinet.bin.score_asr --ref "${data_feats}/${dset}/text" \
            --hyp "${decode_dir}/text" --output_dir "${decode_dir}"
        head -n 1 "${decode_dir}/score_wer/result.txt" "${decode_dir}/score_cer/result.txt"
    done
fi

# ---------------------------------------------------------------- stage 14
if [ "${stage}" -le 14 ] && [ "${stop_stage}" -ge 14 ]; then
    packed="${asr_exp}/${asr_exp##*/}_${inference_asr_model%.pth}.zip"
    log "Stage 14: packing ${asr_exp} -> ${packed}"
    pack_opts=()
    pack_settings=(--file "asr_model=${asr_exp}/${inference_asr_model}" --file "asr_config=${asr_exp}/config.yaml")
    if [ "${token_type}" = bpe ]; then
        pack_opts+=(--option "${bpemodel}")
        pack_settings+=(--file "bpe_model=${bpemodel}")
    fi
    if [ "${feats_normalize}" = global_mvn ]; then
        pack_opts+=(--option "${asr_stats_dir}/train/feats_stats.npz")
        pack_settings+=(--file "feats_stats=${asr_stats_dir}/train/feats_stats.npz")
    fi
    if needs_run "${packed%.zip}.done" "packing of ${packed}" "${pack_settings[@]}" --clear "${packed}"; then
        # Written under a temporary name first: the zip exists only when complete.
        ${python} -m espnet2.bin.pack asr --asr_train_config "${asr_exp}/config.yaml" \
            --asr_model_file "${asr_exp}/${inference_asr_model}" "${pack_opts[@]}" \
            --outpath "${packed%.zip}.partial.zip" > "${asr_exp}/pack.log" 2>&1 \
            || { log "stage 14 failed, see ${asr_exp}/pack.log"; exit 1; }
        mv "${packed%.zip}.partial.zip" "${packed}"
        mark_done "${packed%.zip}.done"
    fi
fi

log "Successfully finished asr.sh stages ${stage}-${stop_stage}$([ "${stop_stage}" -lt 10 ] || echo " (${asr_exp})")"
