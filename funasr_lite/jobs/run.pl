#!/usr/bin/env perl
# run.pl: Kaldi's local job runner (same command line as Kaldi's utils/run.pl, queue.pl, slurm.pl).
# It ships in the package (funasr_lite/jobs/run.pl; utils/run.pl links here): bin/inference --nj runs
# its jobs through it by default, from a checkout or an installed copy.
#
#   utils/run.pl [options] [JOB=1:N] <log-file> <command> [args...]
#
# Runs <command> with bash, stdout and stderr appended to <log-file>. With JOB=1:N it runs N
# jobs in parallel on this host, replacing the string JOB (any identifier may be used) by the
# job index in the log name and the command. Arguments without spaces are passed as they are
# (so an escaped \| is a pipe); an argument with spaces is quoted: '...' if it contains a double
# quote, "..." otherwise. Each log starts with "# <command>" and "# Started at <date>" and ends
# with "# Accounting: time=<s> threads=<n>" and "# Ended (code <c>) at <date>, elapsed time <s>
# seconds". The exit status is 1 when any job failed, after naming the failed logs on stderr.
#
# Options (Kaldi's; others such as --mem, --time, --config take one value and are ignored):
#   --max-jobs-run M (or -tc M)  at most M jobs at once (default: CPU count, or GPU count with --gpu)
#   --num-threads T              only reported in the "# Accounting" line
#   --gpu G                      give each running job G GPUs of this host through
#                                CUDA_VISIBLE_DEVICES (see below); 0 = none (default)
#   --pick all|failed|incomplete rerun everything (default), or only jobs whose log does not end
#                                in "# Ended (code 0)" (failed), or only those with no "# Ended"
#                                line, failed jobs counting as failures (incomplete)
#
# GPUs: the pool is $CUDA_VISIBLE_DEVICES if set (e.g. "2,3"), else the GPUs listed by
# "nvidia-smi -L". At most pool/G jobs run at once; a starting job takes the G lowest free
# GPUs and gives them back when it ends, so no two running jobs share a GPU. With JOB=1:N and
# N <= pool size job j gets GPU j-1. Without nvidia-smi (or no GPUs) a warning is printed and
# CUDA_VISIBLE_DEVICES is left alone.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use POSIX qw(strftime);

my $prog = "run.pl";

sub fail { print STDERR @_; exit 1; }

sub usage {
  my ($code) = @_;
  my $fh = $code ? *STDERR : *STDOUT;
  print $fh "Usage: $prog [options] [JOB=1:N] <log-file> <command> [args...]\n"
    . "e.g.: $prog JOB=1:4 exp/log/decode.JOB.log python -m funasr_lite.bin.asr_inference --model M --wav_scp split4/wav.JOB.scp --output_dir out/JOB\n"
    . "Options: --max-jobs-run M  --num-threads T  --gpu G  --pick all|failed|incomplete\n"
    . "         (--mem, --time, --config ... are accepted and ignored)\n";
  exit $code;
}

my ($max_jobs_run, $num_threads, $gpu, $pick) = (0, 1, 0, "all");
my ($jobname, $jobstart, $jobend) = (undef, 1, 1);

usage(0) if @ARGV && $ARGV[0] =~ /^(-h|--help)$/;

# Options and JOB=a:b may be interleaved (twice round, as in Kaldi).
for my $round (1 .. 2) {
  while (@ARGV >= 2 && $ARGV[0] =~ /^-/) {
    my $switch = shift @ARGV;
    my $value;
    if ($switch =~ /^(--[^=]+)=(.*)$/) { ($switch, $value) = ($1, $2); }
    if ($switch eq "-V") { next; }
    $value = shift @ARGV unless defined $value;
    if ($switch eq "--max-jobs-run" || $switch eq "-tc") {
      fail("$prog: invalid option $switch $value\n") unless $value =~ /^\d+$/ && $value > 0;
      $max_jobs_run = $value if !$max_jobs_run || $value < $max_jobs_run;
    } elsif ($switch eq "--num-threads") {
      $num_threads = $value;
    } elsif ($switch eq "--gpu") {
      fail("$prog: invalid option --gpu $value\n") unless $value =~ /^\d+$/;
      $gpu = $value;
    } elsif ($switch eq "--pick") {
      fail("$prog: --pick must be all, failed or incomplete\n") unless $value =~ /^(all|failed|incomplete)$/;
      $pick = $value;
    } elsif ($switch eq "-pe") {  # GridEngine: -pe smp N
      $num_threads = shift @ARGV;
    }  # any other option: ignored, like Kaldi's run.pl
  }
  if (@ARGV && $ARGV[0] =~ /^([A-Za-z_]\w*)=(\d+):(\d+)$/) {
    ($jobname, $jobstart, $jobend) = ($1, $2, $3);
    shift @ARGV;
  } elsif (@ARGV && $ARGV[0] =~ /^([A-Za-z_]\w*)=(\d+)$/) {
    ($jobname, $jobstart, $jobend) = ($1, $2, $2);
    shift @ARGV;
  }
}
usage(1) if @ARGV < 2;
fail("$prog: invalid job range $jobname=$jobstart:$jobend\n") if $jobstart > $jobend;
fail("$prog: invalid job range $jobname=$jobstart:$jobend, start must be >= 1\n") if $jobstart < 1;

my $logfile = shift @ARGV;
if (defined $jobname && $jobend > $jobstart && $logfile !~ /$jobname/) {
  fail("$prog: you are trying to run a parallel job but you are putting the output into just one log file ($logfile)\n");
}
my $cmd = join(" ", map { /^\S+$/ ? $_ : /"/ ? "'$_'" : "\"$_\"" } @ARGV);
my $njobs = $jobend - $jobstart + 1;

sub subst {
  my ($text, $id) = @_;
  $text =~ s/$jobname/$id/g if defined $jobname;
  return $text;
}

sub count_cpus {
  my $n = 0;
  if (open(my $fh, "<", "/proc/cpuinfo")) { $n += /^processor/ ? 1 : 0 while <$fh>; close $fh; }
  return $n || 8;
}

sub gpu_pool {
  if (defined $ENV{CUDA_VISIBLE_DEVICES} && $ENV{CUDA_VISIBLE_DEVICES} =~ /\S/) {
    return grep { length } split /\s*,\s*/, $ENV{CUDA_VISIBLE_DEVICES};
  }
  my @ids;
  if (open(my $fh, "-|", "nvidia-smi -L 2>/dev/null")) {
    while (<$fh>) { push @ids, $1 if /^GPU (\d+)/; }
    close $fh;
  }
  return @ids;
}

my @pool;
if ($gpu > 0) {
  @pool = gpu_pool();
  if (!@pool) {
    print STDERR "$prog: WARNING: --gpu $gpu but nvidia-smi found no GPUs; CUDA_VISIBLE_DEVICES is not set\n";
  } elsif ($gpu > @pool) {
    print STDERR "$prog: WARNING: --gpu $gpu but only " . scalar(@pool) . " GPU(s); each job gets all of them, one job at a time\n";
    $gpu = scalar @pool;
  }
}
if (!$max_jobs_run) {
  $max_jobs_run = @pool ? int(@pool / $gpu) : count_cpus();
  # Like Kaldi: a few more jobs than CPUs run all at once rather than leave a short tail.
  $max_jobs_run = $njobs if !@pool && $njobs > $max_jobs_run && $njobs < 1.4 * $max_jobs_run;
} elsif (@pool && $max_jobs_run > int(@pool / $gpu)) {
  $max_jobs_run = int(@pool / $gpu);
}

# Last "# Ended (code N...)" of a log: undef if there is none.
sub ended_code {
  my ($log) = @_;
  open(my $fh, "<", $log) or return undef;
  my $code;
  while (<$fh>) { $code = $1 if /^# Ended \(code (\d+)/; }
  close $fh;
  return $code;
}

sub now { return strftime("%a %b %e %H:%M:%S %Z %Y", localtime); }

# Runs one job in the current (forked) process and exits 0 or 1.
sub run_job {
  my ($id, $gpus) = @_;
  my $log = subst($logfile, $id);
  my $jobcmd = subst($cmd, $id);
  if ($pick ne "all") {
    my $code = ended_code($log);
    exit 0 if defined $code && $code == 0;
    exit 1 if defined $code && $pick eq "incomplete";
  }
  my $dir = dirname($log);
  make_path($dir) unless -d $dir;
  $ENV{CUDA_VISIBLE_DEVICES} = join(",", map { $pool[$_] } @$gpus) if @$gpus;
  open(my $fh, ">", $log) or fail("$prog: cannot write log file $log: $!\n");
  print $fh "# $jobcmd\n# Started at " . now() . "\n#\n";
  close $fh;
  my $t0 = time;
  open(STDIN, "<", "/dev/null");
  open(STDOUT, ">>", $log) or fail("$prog: cannot append to $log: $!\n");
  open(STDERR, ">&", \*STDOUT);
  system("bash", "-c", $jobcmd);
  my $status = $?;
  my $elapsed = time - $t0;
  my $code = $status == -1 ? 127 : $status >> 8;
  my $sig = $status == -1 ? 0 : $status & 127;
  my $what = $sig ? "code $code; signal $sig" : "code $code";
  open($fh, ">>", $log) or fail("$prog: cannot append to $log: $!\n");
  print $fh "# Accounting: time=$elapsed threads=$num_threads\n";
  print $fh "# Ended ($what) at " . now() . ", elapsed time $elapsed seconds\n";
  close $fh;
  exit($status == 0 ? 0 : 1);
}

my %running;   # pid -> [job id, [pool indices]]
my %failed;    # job id -> 1
my @free = (0 .. $#pool);   # indices into @pool

sub reap_one {
  my $pid = waitpid(-1, 0);
  fail("$prog: error waiting for a child process\n") if $pid <= 0;
  my $job = delete $running{$pid} or return;
  $failed{$job->[0]} = 1 if $? != 0;
  @free = sort { $a <=> $b } (@free, @{$job->[1]});
}

for my $id ($jobstart .. $jobend) {
  reap_one() while keys(%running) >= $max_jobs_run || (@pool && @free < $gpu);
  my @gpus = @pool ? splice(@free, 0, $gpu) : ();
  my $pid = fork();
  fail("$prog: fork failed: $!\n") unless defined $pid;
  run_job($id, \@gpus) if $pid == 0;
  $running{$pid} = [$id, \@gpus];
}
reap_one() while keys %running;

my @bad = sort { $a <=> $b } keys %failed;
exit 0 unless @bad;
if ($njobs > 1) {
  (my $pattern = $logfile) =~ s/$jobname/*/g;
  print STDERR "$prog: " . scalar(@bad) . " / $njobs failed, log is in $pattern\n";
}
my $shown = 0;
for my $id (@bad) {
  if (++$shown > 10) { print STDERR "$prog: ... and " . (@bad - 10) . " more\n"; last; }
  print STDERR "$prog: job failed, log is in " . subst($logfile, $id) . "\n";
}
exit 1;
