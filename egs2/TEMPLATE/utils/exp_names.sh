#!/usr/bin/env bash
# Names of experiment, token-list and decoding dirs, as ESPnet's asr.sh makes them; sourced by
# asr.sh and trinet.sh, so that both agree on where a stage's output is.

# args_tag "<options>": a dir-name suffix from options ("--max_epoch 2 --lr 0.1" -> "_max_epoch2_lr0.1").
args_tag() { echo "$1" | sed -e "s/--/\_/g" -e "s/[ |=/]//g"; }

# token_dir <token_listdir> <token_type> <bpemode> <nbpe>: data/en_token_list/char, .../bpe_unigram30
token_dir() { if [ "$2" = bpe ]; then echo "$1/bpe_$3$4"; else echo "$1/$2"; fi; }

# token_tag <token_type> <nbpe>: char, bpe30 (in statistics and LM dir names)
token_tag() { if [ "$1" = bpe ]; then echo "bpe$2"; else echo "$1"; fi; }

# lm_dir_name <lm_config> <lang> <token_tag> <lm_args>: lm_train_lm_tiny_en_char
lm_dir_name() { echo "lm_$(basename "${1:-train}" .yaml)_$2_$3$(args_tag "$4")"; }

# decode_dir_name <inference_config> <lm_exp, or empty> <inference_lm> <inference_asr_model>:
# decode_ctc_greedy_asr_model_valid.cer_ctc.ave, or decode_ctc_lm_lm_<...>_valid.loss.ave_asr_model_<...>
decode_dir_name() {
    local tag
    tag=$(basename "${1:-decode}" .yaml)
    [ -z "$2" ] || tag+="_lm_$(basename "$2")_${3%.pth}"
    echo "${tag}_asr_model_${4%.pth}"
}
