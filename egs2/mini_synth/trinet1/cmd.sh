# Job backend for parallel data jobs (python -m espnet_trinet.bin.run_jobs):
#   local: processes on this machine;  slurm: sbatch (set slurm options below).
# Training goes through ESPnet's launcher (espnet2.bin.launch) for multi-GPU/multi-node.
cmd_backend=local
slurm_opts="--partition=cpu --time=4:00:00"
