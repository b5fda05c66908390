#!/usr/bin/env bash
# Kaldi's run.pl interface (run.pl [--gpu N] [JOB=1:N] LOG COMMAND...) over the
# project's job runner, local backend. It keeps Kaldi's file name because ESPnet's
# launcher (espnet2.bin.launch --cmd) picks its multi-node strategy by that name.
exec "${PYTHON:-python3}" -m espnet_trinet.bin.run_jobs --backend local "$@"
