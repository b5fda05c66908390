#!/usr/bin/env bash
# The embedded default recipe: a synthetic espeak-ng corpus and tiny configs that
# run on a 2-core CPU. All stage logic is in ../../TEMPLATE/trinet1/trinet.sh.
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh
# The command line, for exp/RESULTS.md.
recipe_command="./run.sh"
[ $# -gt 0 ] && recipe_command+=$(printf ' %q' "$@")

../../TEMPLATE/trinet1/trinet.sh \
    --ssl_train_set train \
    --asr_train_set train_labelled \
    --valid_set dev \
    --test_sets "test" \
    --nj 2 --inference_nj 2 \
    --min_sec 0.5 --max_sec 12 \
    --token_type char \
    --ssl_methods "data2vec trinet" --ssl_config_suffix _tiny \
    --asr_config conf/finetune_ctc_tiny.yaml \
    --inference_config conf/decode_ctc_greedy.yaml \
    --use_lm true --lm_config conf/train_lm_tiny.yaml --lm_inference_config conf/decode_ctc_lm.yaml \
    --train_cmd "${train_cmd}" --cuda_cmd "${cuda_cmd}" --decode_cmd "${decode_cmd}" \
    --recipe_command "${recipe_command}" \
    "$@"
