#!/usr/bin/env bash
# split_scp.sh: Kaldi split_scp.pl-compatible front end for utils/split_scp.py.
#   utils/split_scp.sh [--utt2spk FILE] in.scp out.1 ... out.N
#   utils/split_scp.sh [--utt2spk FILE] -j N JOB [--one-based] in.scp [out]
# Kaldi's --utt2spk=FILE form works too. See utils/split_scp.py --help.
exec "${PYTHON:-python3}" "$(dirname "${BASH_SOURCE[0]}")/split_scp.py" "$@"
