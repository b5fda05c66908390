# Job backends, as in ESPnet's cmd.sh. Kaldi-style commands
#   ${train_cmd} [--gpu N] [JOB=1:N] LOG COMMAND...
# run.pl runs the jobs on this machine; slurm.pl submits them with sbatch (a job
# array for data/decoding jobs; srun across nodes when training with --num_nodes > 1,
# through espnet2.bin.launch). Both are the project's job runner (espnet_trinet.bin.run_jobs).
cmd_backend=local

utils_dir="${MAIN_ROOT}/egs2/TEMPLATE/utils"
if [ "${cmd_backend}" = local ]; then
    train_cmd="${utils_dir}/run.pl"
    cuda_cmd="${utils_dir}/run.pl"
    decode_cmd="${utils_dir}/run.pl"
elif [ "${cmd_backend}" = slurm ]; then
    export SLURM_OPTS="--partition=cpu --time=24:00:00"   # your cluster's sbatch options
    train_cmd="${utils_dir}/slurm.pl"
    cuda_cmd="${utils_dir}/slurm.pl"
    decode_cmd="${utils_dir}/slurm.pl"
else
    echo "cmd.sh: unknown cmd_backend ${cmd_backend} (local or slurm)" >&2
    return 1
fi
