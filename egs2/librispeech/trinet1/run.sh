#!/usr/bin/env bash
# LibriSpeech, as in the TriNet paper: pretraining on the 960 h training sets, CTC
# fine-tuning on train-clean-100, scoring on dev/test clean and other (greedy CTC, and CTC beam
# search with a character Transformer LM trained on LibriSpeech's LM text: put
# librispeech-lm-norm.txt.gz from openslr 11 in or next to the corpus folder, or pass
# --lm_train_text, or --use_lm false), base-size conformer configs for GPUs. All stage logic is in
# ../../TEMPLATE/trinet1/trinet.sh; see its --help.
#   ./run.sh --librispeech_dir /data/LibriSpeech --ngpu 8
# Without --librispeech_dir, stage 1 downloads the corpus (about 60 GB) when the
# network allows it.
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh
# The command line, for exp/RESULTS.md.
recipe_command="./run.sh"
[ $# -gt 0 ] && recipe_command+=$(printf ' %q' "$@")

# The one option of this recipe; everything else goes to trinet.sh.
librispeech_dir=
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --librispeech_dir) [ $# -ge 2 ] || { echo "$0: --librispeech_dir needs a value" >&2; exit 1; }
                           librispeech_dir=$(cd "$2" && pwd); shift 2 ;;
        --librispeech_dir=*) librispeech_dir=$(cd "${1#*=}" && pwd); shift ;;
        *) args+=("$1"); shift ;;
    esac
done
local_data_opts="--nj 8"
[ -n "${librispeech_dir}" ] && local_data_opts+=" --librispeech_dir ${librispeech_dir}"

../../TEMPLATE/trinet1/trinet.sh \
    --ssl_train_set train_960 \
    --asr_train_set train_clean_100 \
    --valid_set dev_clean \
    --test_sets "dev_clean dev_other test_clean test_other" \
    --local_data_opts "${local_data_opts}" \
    --nj 32 --inference_nj 32 \
    --ngpu 8 \
    --min_sec 1.0 --max_sec 20 \
    --token_type char \
    --ssl_methods "data2vec trinet" --ssl_config_suffix _base \
    --asr_config conf/finetune_ctc_base.yaml \
    --inference_config conf/decode_ctc_greedy.yaml \
    --use_lm true --lm_config conf/train_lm_transformer.yaml --lm_inference_config conf/decode_ctc_lm.yaml \
    --train_cmd "${train_cmd}" --cuda_cmd "${cuda_cmd}" --decode_cmd "${decode_cmd}" \
    --recipe_command "${recipe_command}" \
    "${args[@]}"
