#!/usr/bin/env bash
# log "message": timestamped, with the calling script and line, like ESPnet's recipes.
log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}
