#!/usr/bin/env bash
# Done markers that record what a stage's output was made with (espnet_trinet.bin.stage_marker).
#
# needs_run <marker> <what> [settings and options of `stage_marker check`...]
#   true (run the stage) when it never ran or a killed run with the same settings is to resume;
#   false (skip) when it finished with the same settings; otherwise the recipe stops with what
#   changed and the fix (--force true, or a directory of the run's own), and nothing is touched.
#   The settings: --option name=value, --file name=path, --keys name=yaml:key1,key2,
#   --data name=dir; --clear path: the stale output --force true removes; --fix "hint".
# mark_done <marker>: the stage finished (its settings record becomes the marker).
# Needs ${python}; reads ${force} (true/false).
needs_run() {
    local marker=$1 what=$2 rc=0 out
    shift 2
    out=$("${python}" -m espnet_trinet.bin.stage_marker check --marker "${marker}" --what "${what}" \
        --force "${force:-false}" "$@") || rc=$?
    [ -z "${out}" ] || log "${out}"
    case ${rc} in
        0) return 0 ;;
        10) return 1 ;;
        *) log "stopped before ${what}"; exit 1 ;;
    esac
}
mark_done() {
    "${python}" -m espnet_trinet.bin.stage_marker done --marker "$1"
}
