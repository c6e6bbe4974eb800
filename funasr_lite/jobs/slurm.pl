#!/usr/bin/env perl
# slurm.pl: run.pl's interface on a Slurm cluster (Kaldi's utils/slurm.pl command line).
#
#   utils/slurm.pl [options] [JOB=1:N] <log-file> <command> [args...]
#
# Writes a job script to <log-dir>/q/<name>.sh, submits it once as "sbatch --array=1-N" (no
# --array for a single job without JOB=), and waits. Each task writes the same log as run.pl
# ("# <command>", "# Running on <host>", "# Started at ...", output, "# Accounting: time=...
# threads=...", "# Ended (code N) at ..., elapsed time S seconds") and then its exit code to a
# marker file <log-dir>/q/done.<pid>.<task>. slurm.pl polls for the markers; when squeue no
# longer lists the job (empty answer or "Invalid job id") but markers are missing (task killed:
# time limit, memory, node failure), it waits $SLURM_PL_GRACE_S seconds (default 30, for slow
# shared file systems), then records the sacct state in those logs and counts the tasks as
# failed. Any other squeue error (controller busy, no squeue) counts as "still listed". Exit status: 1 if any task
# failed (failed logs named on stderr, as run.pl does), 0 otherwise. Ctrl-C cancels the job.
#
# Options are mapped to sbatch options by a config file (Kaldi's format; --config FILE, default
# conf/slurm.conf if it exists, else the built-in one below). An option not described there is
# an error. --max-jobs-run M becomes --array=1-N%M.
#
#   command sbatch --export=ALL
#   option mem=* --mem $0
#   option mem=0                # nothing
#   option num_threads=* --cpus-per-task $0
#   option num_threads=1        # nothing
#   option gpu=* --gres=gpu:$0
#   option gpu=0                # nothing
#   option time=* --time $0
#   default gpu=0
#
# Environment: SLURM_PL_POLL_S (longest pause between polls, default 10), SLURM_PL_GRACE_S.
use strict;
use warnings;
use Cwd qw(getcwd);
use File::Basename qw(basename dirname);
use File::Path qw(make_path);

my $prog = "slurm.pl";

my $default_config = <<'EOF';
command sbatch --export=ALL
option mem=* --mem $0
option mem=0
option num_threads=* --cpus-per-task $0
option num_threads=1
option gpu=* --gres=gpu:$0
option gpu=0
option time=* --time $0
default gpu=0
EOF

sub fail { print STDERR @_; exit 1; }

sub usage {
  my ($code) = @_;
  my $fh = $code ? *STDERR : *STDOUT;
  print $fh "Usage: $prog [options] [JOB=1:N] <log-file> <command> [args...]\n"
    . "e.g.: $prog --mem 4G --gpu 1 JOB=1:8 exp/log/decode.JOB.log python -m funasr_lite.bin.asr_inference --model M --wav_scp split4/wav.JOB.scp --output_dir out/JOB\n"
    . "Options: --config FILE (default conf/slurm.conf if present)  --mem M  --num-threads T  --gpu G\n"
    . "         --time T  --max-jobs-run M  (any option described in the config file)\n";
  exit $code;
}

usage(0) if @ARGV && $ARGV[0] =~ /^(-h|--help)$/;

my %cli;   # option name (dashes -> underscores) -> value
my ($jobname, $jobstart, $jobend, $array) = (undef, 1, 1, 0);
for my $round (1 .. 2) {
  while (@ARGV >= 2 && $ARGV[0] =~ /^--/) {
    my $switch = shift @ARGV;
    my $value;
    if ($switch =~ /^(--[^=]+)=(.*)$/) { ($switch, $value) = ($1, $2); }
    $value = shift @ARGV unless defined $value;
    (my $name = $switch) =~ s/^--//;
    $name =~ tr/-/_/;
    $cli{$name} = $value;
  }
  if (@ARGV && $ARGV[0] =~ /^([A-Za-z_]\w*)=(\d+):(\d+)$/) {
    ($jobname, $jobstart, $jobend, $array) = ($1, $2, $3, 1);
    shift @ARGV;
  } elsif (@ARGV && $ARGV[0] =~ /^([A-Za-z_]\w*)=(\d+)$/) {
    ($jobname, $jobstart, $jobend, $array) = ($1, $2, $2, 1);
    shift @ARGV;
  }
}
usage(1) if @ARGV < 2;
fail("$prog: invalid job range $jobname=$jobstart:$jobend\n") if $jobstart > $jobend || $jobstart < 1;

# ---- config file -> sbatch options
my $config = delete $cli{config};
my $config_text;
if (defined $config) {
  open(my $fh, "<", $config) or fail("$prog: cannot open config file $config\n");
  local $/; $config_text = <$fh>; close $fh;
} elsif (-r "conf/slurm.conf") {
  $config = "conf/slurm.conf";
  open(my $fh, "<", $config) or fail("$prog: cannot open config file $config\n");
  local $/; $config_text = <$fh>; close $fh;
} else {
  ($config, $config_text) = ("the built-in config", $default_config);
}

my $max_jobs_run = delete $cli{max_jobs_run};
my $num_threads = $cli{num_threads} // 1;
my (@sbatch, %star, %fixed);
for my $line (split /\n/, $config_text) {
  (my $l = $line) =~ s/\s*#.*//;
  next if $l =~ /^\s*$/;
  if ($l =~ /^command\s+(.+)$/) {
    @sbatch = split ' ', $1;
  } elsif ($l =~ /^option\s+([^=\s]+)=\*\s+(.+)$/) {
    $star{$1} = $2;
  } elsif ($l =~ /^option\s+([^=\s]+)=(\S+)\s*(.*)$/) {
    $fixed{"$1=$2"} = $3;
  } elsif ($l =~ /^default\s+([^=\s]+)=(\S+)/) {
    $cli{$1} //= $2;
  } else {
    fail("$prog: cannot parse line '$line' in $config\n");
  }
}
fail("$prog: $config has no 'command ...' line\n") unless @sbatch;

my @opts;
for my $name (sort keys %cli) {
  my $value = $cli{$name};
  if (exists $fixed{"$name=$value"}) {
    push @opts, split ' ', $fixed{"$name=$value"};
  } elsif (exists $star{$name}) {
    (my $o = $star{$name}) =~ s/\$0/$value/g;
    push @opts, split ' ', $o;
  } else {
    fail("$prog: option --$name $value is not described in $config\n");
  }
}

# ---- the command, the log and the job script
my $cwd = getcwd();
my $logfile = shift @ARGV;
if ($array && $jobend > $jobstart && $logfile !~ /$jobname/) {
  fail("$prog: you are trying to run a parallel job but you are putting the output into just one log file ($logfile)\n");
}
my $cmd = join(" ", map { /^\S+$/ ? $_ : /"/ ? "'$_'" : "\"$_\"" } @ARGV);
my $qdir = dirname($logfile) . "/q";
make_path($qdir) unless -d $qdir;
my $base = basename($logfile);
$base =~ s/\.?$jobname//g if $array;
$base =~ s/\.log$//;
my $script = "$qdir/$base.sh";
my $marker = "$qdir/done.$$";
my @tasks = ($jobstart .. $jobend);
unlink map { "$marker.$_" } @tasks;

sub heredoc {
  my ($tag, $text) = @_;
  return "\$(cat <<'$tag'\n$text\n$tag\n)";
}
my $subst = $array ? "cmd=\${cmd//$jobname/\$task}\nlog=\${log//$jobname/\$task}\n" : "";
open(my $sh, ">", $script) or fail("$prog: cannot write $script: $!\n");
print $sh <<"EOF";
#!/usr/bin/env bash
# Written by utils/slurm.pl; submitted with: @sbatch @opts
cd '$cwd' || exit 1
[ -f ./path.sh ] && . ./path.sh
task=\${SLURM_ARRAY_TASK_ID:-$jobstart}
cmd=${\ heredoc("FUNASR_LITE_CMD", $cmd)}
log=${\ heredoc("FUNASR_LITE_LOG", $logfile)}
${subst}mkdir -p "\$(dirname "\$log")"
{ printf '# %s\\n' "\$cmd"; echo "# Running on \$(hostname)"; echo "# Started at \$(date)"; echo '#'; } >"\$log"
t0=\$(date +%s)
( eval "\$cmd" ) </dev/null >>"\$log" 2>&1
ret=\$?
t1=\$(date +%s)
echo "# Accounting: time=\$((t1 - t0)) threads=$num_threads" >>"\$log"
echo "# Ended (code \$ret) at \$(date), elapsed time \$((t1 - t0)) seconds" >>"\$log"
sync "\$log" 2>/dev/null
echo \$ret >'$marker'.\$task
exit \$((ret ? 1 : 0))
EOF
close($sh) or fail("$prog: cannot write $script (disk full?)\n");
chmod 0755, $script;

my $qlog = "$qdir/$base." . ($array ? "%a" : "%j") . ".out";   # Slurm's own output; the job log is $logfile
my @submit = (@sbatch, "--parsable", "--job-name=$base", "--output=$qlog", @opts);
if ($array) {
  my $range = "$jobstart-$jobend" . ($max_jobs_run ? "%$max_jobs_run" : "");
  push @submit, "--array=$range";
}
push @submit, $script;
open(my $sb, "-|", @submit) or fail("$prog: cannot run $submit[0]: $!\n");
my $out = join("", <$sb>);
close $sb;
if ($? != 0 || $out !~ /^\s*(\d+)/) {
  print STDERR "$prog: submission failed (exit " . ($? >> 8) . "): @submit\n$out";
  exit 1;
}
my $jobid = $1;

# ---- wait for the markers
$SIG{INT} = $SIG{TERM} = sub {
  print STDERR "$prog: interrupted, cancelling job $jobid\n";
  system("scancel", $jobid);
  exit 1;
};

sub missing { return grep { !-e "$marker.$_" } @tasks; }

# 1 while squeue lists the job (or cannot tell: controller busy, no squeue), 0 once it is gone.
sub job_listed {
  my $out = `squeue -h -j $jobid -o %i 2>&1`;
  return $out =~ /\d/ ? 1 : 0 if $? == 0;
  return $out =~ /invalid job id/i ? 0 : 1;
}

my $poll_max = $ENV{SLURM_PL_POLL_S} // 10;
my $grace = $ENV{SLURM_PL_GRACE_S} // 30;
my $pause = 0.2;
my $gone_since;
while (my @left = missing()) {
  if (job_listed()) {
    undef $gone_since;
  } else {
    $gone_since //= time;
    last if time - $gone_since >= $grace;
  }
  select(undef, undef, undef, $pause);
  $pause = $pause * 1.5 > $poll_max ? $poll_max : $pause * 1.5;
}

sub task_log {
  my ($task) = @_;
  my $log = $logfile;
  $log =~ s/$jobname/$task/g if $array;
  return $log;
}

sub sacct_states {
  my %state;
  open(my $fh, "-|", "sacct", "-n", "-P", "-X", "-j", $jobid, "-o", "JobID,State,ExitCode") or return %state;
  while (<$fh>) {
    chomp;
    my ($id, $st, $ec) = split /\|/;
    next unless defined $ec;
    my $task = $id =~ /_(\d+)$/ ? $1 : $jobstart;
    $state{$task} = "$st $ec";
  }
  close $fh;
  return %state;
}

my @failed;
my @left = missing();
my %state = @left ? sacct_states() : ();
for my $task (@tasks) {
  if (grep { $_ == $task } @left) {
    my $st = $state{$task} // "unknown";
    my $log = task_log($task);
    make_path(dirname($log));
    if (open(my $fh, ">>", $log)) {
      print $fh "# slurm.pl: task $task of job $jobid ended without an exit marker (sacct: $st)\n";
      close $fh;
    }
    push @failed, $task;
    next;
  }
  open(my $fh, "<", "$marker.$task") or fail("$prog: cannot read $marker.$task\n");
  my $code = <$fh> // "1";
  close $fh;
  unlink "$marker.$task";
  push @failed, $task if $code !~ /^\s*0\s*$/;
}
exit 0 unless @failed;
if (@tasks > 1) {
  (my $pattern = $logfile) =~ s/$jobname/*/g;
  print STDERR "$prog: " . scalar(@failed) . " / " . scalar(@tasks) . " failed, log is in $pattern\n";
}
my $shown = 0;
for my $task (@failed) {
  if (++$shown > 10) { print STDERR "$prog: ... and " . (@failed - 10) . " more\n"; last; }
  print STDERR "$prog: job failed, log is in " . task_log($task) . "\n";
}
exit 1;
