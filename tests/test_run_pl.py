"""utils/run.pl and utils/slurm.pl: Kaldi's job-runner interface (slurm.pl against fake sbatch/squeue/sacct)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUN_PL = str(REPO / "utils" / "run.pl")
SLURM_PL = str(REPO / "utils" / "slurm.pl")

HEADER = re.compile(r"^# (?P<cmd>.*)\n(# Running on .*\n)?# Started at .+\n#\n", re.MULTILINE)
FOOTER = re.compile(
    r"# Accounting: time=\d+ threads=(?P<threads>\d+)\n"
    r"# Ended \(code (?P<code>\d+)\) at .+, elapsed time \d+ seconds\n$"
)


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    e["PATH"] = f"{tmp_path / 'bin'}:{e['PATH']}"
    e.update(extra)
    return e


def run(args: list[str], tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=tmp_path, env=env(tmp_path, **extra), capture_output=True, text=True, timeout=30, check=False
    )


def fake(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


def parse_log(path: Path) -> tuple[str, str, int, int]:
    """(command line, output, exit code, threads) of a job log."""
    text = path.read_text()
    head, foot = HEADER.match(text), FOOTER.search(text)
    assert head and foot, text
    return head["cmd"], text[head.end() : foot.start()], int(foot["code"]), int(foot["threads"])


def max_concurrency(events: Path) -> int:
    running = peak = 0
    for line in events.read_text().split():
        running += 1 if line == "start" else -1
        peak = max(peak, running)
    return peak


# ------------------------------------------------------------------ run.pl


def test_job_substitution_and_log_format(tmp_path):
    proc = run(
        [
            RUN_PL,
            "--mem",
            "2G",
            "--num-threads",
            "3",
            "--config",
            "conf/x.conf",
            "JOB=1:3",
            "exp/log/x.JOB.log",
            "echo",
            "job",
            "JOB",
            "in",
            "x.JOB.scp",
            "|",
            "tr",
            "a-z",
            "A-Z",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    for job in (1, 2, 3):
        cmd, out, code, threads = parse_log(tmp_path / f"exp/log/x.{job}.log")
        assert cmd == f"echo job {job} in x.{job}.scp | tr a-z A-Z"
        assert out == f"JOB {job} IN X.{job}.SCP\n" and code == 0 and threads == 3


def test_quoting_of_arguments_with_spaces(tmp_path):
    # Kaldi: an argument with spaces is double-quoted (or single-quoted if it has a double quote)
    proc = run([RUN_PL, "log", "echo", "a  b", 'say "hi"  now', "$HOME"], tmp_path, HOME="/h")
    assert proc.returncode == 0, proc.stderr
    cmd, out, _, _ = parse_log(tmp_path / "log")
    assert cmd == """echo "a  b" 'say "hi"  now' $HOME""" and out == 'a  b say "hi"  now /h\n'


def test_parallel_and_max_jobs_run(tmp_path):
    job = ["bash", "-c", "echo start >> events; sleep 0.4; echo end >> events"]
    assert run([RUN_PL, "--max-jobs-run", "4", "JOB=1:4", "log/p.JOB.log", *job], tmp_path).returncode == 0
    assert max_concurrency(tmp_path / "events") == 4
    (tmp_path / "events").unlink()
    assert run([RUN_PL, "--max-jobs-run", "2", "JOB=1:5", "log/q.JOB.log", *job], tmp_path).returncode == 0
    assert max_concurrency(tmp_path / "events") == 2
    assert all((tmp_path / f"log/q.{j}.log").is_file() for j in range(1, 6))


def test_failure_names_failed_logs(tmp_path):
    proc = run([RUN_PL, "JOB=1:3", "log/f.JOB.log", "test", "JOB", "-ne", "2"], tmp_path)
    assert proc.returncode == 1
    assert "run.pl: 1 / 3 failed, log is in log/f.*.log" in proc.stderr
    assert "run.pl: job failed, log is in log/f.2.log" in proc.stderr
    assert "f.1.log" not in proc.stderr and "f.3.log" not in proc.stderr
    assert parse_log(tmp_path / "log/f.2.log")[2] == 1 and parse_log(tmp_path / "log/f.1.log")[2] == 0


def test_single_job_forms(tmp_path):
    proc = run([RUN_PL, "one.log", "echo", "hello"], tmp_path)
    assert proc.returncode == 0 and parse_log(tmp_path / "one.log")[1] == "hello\n"
    proc = run([RUN_PL, "bad.log", "bash", "-c", "exit 3"], tmp_path)
    assert proc.returncode == 1 and proc.stderr.strip() == "run.pl: job failed, log is in bad.log"
    assert parse_log(tmp_path / "bad.log")[2] == 3
    proc = run([RUN_PL, "JOB=7", "s.JOB.log", "echo", "JOB"], tmp_path)
    assert proc.returncode == 0 and parse_log(tmp_path / "s.7.log")[1] == "7\n"


def test_usage_errors(tmp_path):
    proc = run([RUN_PL, "JOB=1:2", "one.log", "true"], tmp_path)
    assert proc.returncode == 1 and "just one log file" in proc.stderr
    proc = run([RUN_PL, "only-a-log"], tmp_path)
    assert proc.returncode == 1 and "Usage:" in proc.stderr
    assert run([RUN_PL, "JOB=3:1", "x.JOB.log", "true"], tmp_path).returncode == 1
    assert run([RUN_PL, "--help"], tmp_path).returncode == 0


def test_pick_failed_reruns_only_failed_jobs(tmp_path):
    cmd = ["bash", "-c", "echo ran JOB >> runs; test -e ok.JOB"]
    (tmp_path / "ok.1").touch()
    assert run([RUN_PL, "JOB=1:2", "log/r.JOB.log", *cmd], tmp_path).returncode == 1
    (tmp_path / "ok.2").touch()
    assert run([RUN_PL, "--pick", "failed", "JOB=1:2", "log/r.JOB.log", *cmd], tmp_path).returncode == 0
    assert sorted((tmp_path / "runs").read_text().splitlines()) == ["ran 1", "ran 2", "ran 2"]


def test_gpu_one_job_per_gpu(tmp_path):
    fake(tmp_path, "nvidia-smi", 'echo "GPU 0: NVIDIA H100 (UUID: GPU-a)"; echo "GPU 1: NVIDIA H100 (UUID: GPU-b)"\n')
    cmd = ["bash", "-c", "echo start >> events; echo $CUDA_VISIBLE_DEVICES; sleep 0.3; echo end >> events"]
    proc = run([RUN_PL, "--gpu", "1", "JOB=1:4", "log/g.JOB.log", *cmd], tmp_path)
    assert proc.returncode == 0, proc.stderr
    gpus = [parse_log(tmp_path / f"log/g.{j}.log")[1].strip() for j in range(1, 5)]
    assert gpus[:2] == ["0", "1"] and set(gpus) == {"0", "1"}
    assert max_concurrency(tmp_path / "events") == 2  # no two running jobs share a GPU
    # an existing CUDA_VISIBLE_DEVICES is the pool
    proc = run(
        [RUN_PL, "--gpu", "1", "JOB=1:2", "log/h.JOB.log", "echo", "$CUDA_VISIBLE_DEVICES"],
        tmp_path,
        CUDA_VISIBLE_DEVICES="5,7",
    )
    assert [parse_log(tmp_path / f"log/h.{j}.log")[1] for j in (1, 2)] == ["5\n", "7\n"]
    # two GPUs per job
    proc = run([RUN_PL, "--gpu", "2", "JOB=1:1", "log/k.JOB.log", "echo", "$CUDA_VISIBLE_DEVICES"], tmp_path)
    assert parse_log(tmp_path / "log/k.1.log")[1] == "0,1\n"


def test_gpu_without_gpus_warns(tmp_path):
    fake(tmp_path, "nvidia-smi", "exit 9\n")
    proc = run([RUN_PL, "--gpu", "1", "log", "echo", "[$CUDA_VISIBLE_DEVICES]"], tmp_path)
    assert proc.returncode == 0 and "found no GPUs" in proc.stderr
    assert parse_log(tmp_path / "log")[1] == "[]\n"


# ------------------------------------------------------------------ slurm.pl (fake Slurm)

SBATCH = r"""echo "$@" >> "$PWD/sbatch.args"
script="${@: -1}"; range=""
for a in "$@"; do case $a in --array=*) range=${a#--array=}; range=${range%%\%*};; esac; done
run_tasks() {
  if [ -n "$range" ]; then
    for ((t=${range%-*}; t<=${range#*-}; t++)); do
      [ "${FAKE_SKIP_TASK:-}" = "$t" ] && continue   # a task killed before it could finish
      SLURM_ARRAY_TASK_ID=$t bash "$script" >/dev/null 2>&1
    done
  else
    bash "$script" >/dev/null 2>&1
  fi
}
if [ -n "${FAKE_ASYNC:-}" ]; then  # queued: runs after sbatch returns, listed by squeue meanwhile
  touch "$PWD/queued"; ( sleep 0.5; run_tasks; rm -f "$PWD/queued" ) >/dev/null 2>&1 &
else
  run_tasks
fi
echo 4242
"""


@pytest.fixture()
def slurm(tmp_path):
    fake(tmp_path, "sbatch", SBATCH)
    fake(
        tmp_path,
        "squeue",
        "[ -e queued ] && { echo 4242_[1-3]; exit 0; }\n"
        'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1\n',
    )
    fake(tmp_path, "sacct", 'echo "4242_2|TIMEOUT|0:0"\n')
    fake(tmp_path, "scancel", "exit 0\n")
    return tmp_path


def test_slurm_array_job(slurm):
    proc = run(
        [
            SLURM_PL,
            "--mem",
            "4G",
            "--num-threads",
            "2",
            "--gpu",
            "1",
            "--max-jobs-run",
            "2",
            "JOB=1:3",
            "exp/log/dec.JOB.log",
            "echo",
            "task",
            "JOB",
            "a b",
        ],
        slurm,
    )
    assert proc.returncode == 0, proc.stderr
    args = (slurm / "sbatch.args").read_text().split()
    assert args[0] == "--export=ALL" and "--parsable" in args and "--job-name=dec" in args
    assert "--array=1-3%2" in args and "--gres=gpu:1" in args and args[-1] == "exp/log/q/dec.sh"
    assert " ".join(args).count("--mem 4G") == 1 and " ".join(args).count("--cpus-per-task 2") == 1
    for job in (1, 2, 3):
        cmd, out, code, threads = parse_log(slurm / f"exp/log/dec.{job}.log")
        assert cmd == f'echo task {job} "a b"' and out == f"task {job} a b\n" and code == 0 and threads == 2
    assert "# Running on" in (slurm / "exp/log/dec.1.log").read_text()
    assert not list((slurm / "exp/log/q").glob("done.*"))  # markers are cleaned up


def test_slurm_waits_for_queued_tasks(slurm):
    proc = run(
        [SLURM_PL, "JOB=1:3", "log/a.JOB.log", "test", "JOB", "-ne", "2"],
        slurm,
        FAKE_ASYNC="1",
        SLURM_PL_GRACE_S="0",
        SLURM_PL_POLL_S="0.2",
    )
    assert proc.returncode == 1 and "log is in log/a.2.log" in proc.stderr
    assert [parse_log(slurm / f"log/a.{j}.log")[2] for j in (1, 2, 3)] == [0, 1, 0]


def test_slurm_failures(slurm):
    proc = run([SLURM_PL, "JOB=1:3", "log/f.JOB.log", "test", "JOB", "-ne", "3"], slurm)
    assert proc.returncode == 1
    assert "slurm.pl: 1 / 3 failed, log is in log/f.*.log" in proc.stderr
    assert "slurm.pl: job failed, log is in log/f.3.log" in proc.stderr
    # a task that never wrote its marker (killed): sacct's state is recorded in its log
    proc = run([SLURM_PL, "JOB=1:3", "log/k.JOB.log", "true"], slurm, FAKE_SKIP_TASK="2", SLURM_PL_GRACE_S="0")
    assert proc.returncode == 1 and "log is in log/k.2.log" in proc.stderr
    assert "ended without an exit marker (sacct: TIMEOUT 0:0)" in (slurm / "log/k.2.log").read_text()


def test_slurm_single_job_and_config(slurm):
    (slurm / "conf").mkdir()
    (slurm / "conf/slurm.conf").write_text(
        "command sbatch --export=PATH -p cpu\n"
        "option mem=* --mem-per-cpu $0   # per CPU\n"
        "option gpu=* -p gpu --gres=gpu:$0\n"
        "option gpu=0\n"
        "default gpu=0\n"
    )
    proc = run([SLURM_PL, "--mem", "1G", "one.log", "echo", "hi"], slurm)
    assert proc.returncode == 0, proc.stderr
    args = (slurm / "sbatch.args").read_text().split()
    assert args[:3] == ["--export=PATH", "-p", "cpu"] and "--mem-per-cpu" in args
    assert not any(a.startswith("--array") for a in args) and parse_log(slurm / "one.log")[1] == "hi\n"
    proc = run([SLURM_PL, "--num-threads", "4", "two.log", "true"], slurm)
    assert proc.returncode == 1 and "--num_threads 4 is not described in conf/slurm.conf" in proc.stderr


def test_slurm_submission_failure(slurm):
    fake(slurm, "sbatch", 'echo "sbatch: error: invalid partition" >&2; exit 1\n')
    proc = run([SLURM_PL, "x.log", "true"], slurm)
    assert proc.returncode == 1 and "submission failed" in proc.stderr and "invalid partition" in proc.stderr
