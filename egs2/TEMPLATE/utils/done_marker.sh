#!/usr/bin/env bash
# needs_run <marker> <description>: false (skip) when the done marker exists, so a
# re-run of a finished stage does nothing; stages touch their marker as the last step.
needs_run() {
    if [ -f "$1" ]; then
        log "skip: $2 is done ($1)"
        return 1
    fi
    return 0
}
