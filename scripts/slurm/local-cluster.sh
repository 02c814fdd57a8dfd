#!/usr/bin/env bash
# A one-node Slurm cluster inside this machine, for tests: munged,
# slurmctld and slurmd with a slurm.conf written into DIR (state, spool,
# logs and pid files all there too), no systemd, no accounting, no cgroups.
#   scripts/slurm/local-cluster.sh start DIR   # prints: export SLURM_CONF=DIR/slurm.conf
#   scripts/slurm/local-cluster.sh stop DIR
#   scripts/slurm/local-cluster.sh status DIR
# Needs root (slurmd runs jobs as their user) and Debian's slurm-wlm.
set -eu
cmd=${1:?usage: local-cluster.sh start|stop|status DIR}
dir=${2:?usage: local-cluster.sh start|stop|status DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/slurm.conf
export SLURM_CONF=$conf
host=$(hostname -s)

stop() {
  for p in slurmd slurmctld munged; do
    if [ -f "$dir/$p.pid" ]; then
      kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
      rm -f "$dir/$p.pid"
    fi
  done
}

case "$cmd" in
stop) stop; exit 0 ;;
status) sinfo -h -o '%n %t' 2>&1; exit $? ;;
start) ;;
*) echo "local-cluster.sh: unknown command '$cmd' (start, stop, status)" >&2; exit 2 ;;
esac

stop # idempotent: a second start restarts cleanly
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
# munge: its own key and socket in DIR, so nothing of the host's is needed
if [ ! -s "$dir/munge/munge.key" ]; then
  mungekey --create --keyfile="$dir/munge/munge.key" --force 2>/dev/null ||
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 700 "$dir/munge"; chmod 400 "$dir/munge/munge.key"
munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed" --force
# two free ports (another cluster, or a host's own Slurm, may hold 6817/6818)
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${VB_SLURM_PORT:-6817}
for _ in $(seq 1 50); do
  if in_use "$port" || in_use $((port + 1)); then port=$((port + 2)); else break; fi
done
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 9 / 10 ))
cat >"$conf" <<CONF
ClusterName=visbench-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
MinJobAge=30
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
slurmctld -c -f "$conf"
slurmd -f "$conf"
for _ in $(seq 1 60); do
  if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
    echo "export SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.5
done
echo "local-cluster.sh: the one-node cluster did not come up in 30 s; the daemons' logs:" >&2
tail -n 15 "$dir/slurmctld.log" "$dir/slurmd.log" "$dir/munged.log" >&2 2>/dev/null || true
stop
exit 1
