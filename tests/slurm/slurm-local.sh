#!/bin/bash
# A throwaway single-node Slurm (slurmctld + slurmd + munged from Debian's packages), entirely
# under $D, for tests/slurm/run.sh. The recipe and its pitfalls: ../shared/SLURM-RECIPE.md
# (verified on Debian 12, slurm 22.05). Must run as root (slurmd launches jobs as their user).
#   D=$(mktemp -d) tests/slurm/slurm-local.sh up     then: export SLURM_CONF=$D/slurm.conf
#   D=...          tests/slurm/slurm-local.sh down   stops what `up` started (by pid), removes $D
set -euo pipefail
D=${D:?set D to a scratch directory}
H=$(hostname -s)
CPORT=${CPORT:-6817}
DPORT=${DPORT:-6818}
export SLURM_CONF=$D/slurm.conf

up() {
  mkdir -p "$D"/{munge,state,spool,log}
  chmod 755 "$D" "$D/munge"  # munged wants its socket directory o+x
  mungekey --create --force --keyfile="$D/munge/munge.key"
  munged --socket="$D/munge/munge.socket" --key-file="$D/munge/munge.key" \
    --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" \
    --seed-file="$D/munge/munged.seed"
  # The node line as slurmd sees this machine, minus RealMemory (set below 90% of the real).
  local node mem
  node=$(slurmd -C | head -1 | sed "s/ RealMemory=[0-9]*//")
  mem=$(($(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 * 9 / 10))
  cat >"$SLURM_CONF" <<CONF
ClusterName=lowbittest
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CPORT
SlurmdPort=$DPORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.log
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MailProg=/bin/true
KillWait=5
MaxArraySize=${MAX_ARRAY_SIZE:-1001}
$node NodeAddr=127.0.0.1 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld
  slurmd
  local st=""
  for _ in $(seq 1 100); do  # up to ~20 s for the node to be idle
    st=$(sinfo -h -n "$H" -o %T 2>/dev/null || true)
    [ "$st" = idle ] && return 0
    sleep 0.2
  done
  echo "slurm-local: node not idle: '$st'" >&2
  tail -20 "$D"/log/*.log >&2
  return 1
}

waitpid() { # PID TENTHS: wait for it to exit, then TERM, then KILL
  local p=$1 i
  for i in $(seq 1 "$2"); do
    kill -0 "$p" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -TERM "$p" 2>/dev/null || true
  sleep 1
  kill -KILL "$p" 2>/dev/null || true
}

down() {
  local c d m j
  c=$(cat "$D/slurmctld.pid" 2>/dev/null || true)
  d=$(cat "$D/slurmd.pid" 2>/dev/null || true)
  m=$(cat "$D/munge/munged.pid" 2>/dev/null || true)
  # Cancel leftover jobs first: slurmstepd and the jobs' processes outlive `scontrol shutdown`.
  # Only while our slurmctld lives: the clients retry a missing controller for minutes.
  if [ -n "$c" ] && kill -0 "$c" 2>/dev/null; then
    j=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
    if [ -n "$j" ]; then
      timeout 10 scancel $j 2>/dev/null || true
      for _ in $(seq 1 50); do
        [ -z "$(timeout 5 squeue -h -t R,CG 2>/dev/null || true)" ] && break
        sleep 0.2
      done
    fi
    timeout 10 scontrol shutdown 2>/dev/null || true
  fi
  if [ -n "$c" ]; then waitpid "$c" 50; fi
  if [ -n "$d" ]; then waitpid "$d" 50; fi
  # A slurmstepd that lingers after its job (pitfall 5) is ours only if it runs under $D.
  for p in $(pgrep -f slurmstepd 2>/dev/null || true); do
    if tr '\0' ' ' <"/proc/$p/environ" 2>/dev/null | grep -q "SLURM_CONF=$D/"; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  if [ -n "$m" ]; then
    kill -TERM "$m" 2>/dev/null || true
    waitpid "$m" 30
  fi
  rm -rf "$D"
}

"$1"
