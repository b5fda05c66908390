#!/usr/bin/env bash
# Kaldi's slurm.pl interface over the project's job runner, Slurm backend (sbatch).
# Extra sbatch options come from SLURM_OPTS (set in cmd.sh). The Kaldi name matters:
# espnet2.bin.launch uses srun across nodes only when --cmd is slurm.pl.
exec "${PYTHON:-python3}" -m espnet_trinet.bin.run_jobs --backend slurm --slurm_opts "${SLURM_OPTS:-}" "$@"
