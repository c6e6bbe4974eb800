# Sourced by every recipe script (recipes link here): how jobs run, as Kaldi's cmd.sh.
# Each is a Kaldi job runner: run.pl runs N jobs on this machine, slurm.pl submits them as a
# Slurm array (options mapped through conf/slurm.conf; docs/jobs.md). Both take
# `JOB=1:N log/x.JOB.log command ...`; --gpu G gives each job its own G GPUs.
#   train_cmd   CPU jobs of data preparation and feature extraction
#   decode_cmd  decoding jobs on the CPU
#   cuda_cmd    decoding jobs on a GPU
# Training itself runs in the foreground on this host (torchrun for --ngpu > 1); on a cluster,
# submit `bash run.sh --stage 3 --stop-stage 3` as one job.
export train_cmd="run.pl"
export decode_cmd="run.pl"
export cuda_cmd="run.pl --gpu 1"

# On a Slurm cluster:
# export train_cmd="slurm.pl --mem 4G"
# export decode_cmd="slurm.pl --mem 4G"
# export cuda_cmd="slurm.pl --gpu 1 --mem 16G"
