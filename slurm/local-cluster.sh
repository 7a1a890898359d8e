#!/usr/bin/env bash
# A real two-node Slurm cluster on one machine, for trying the Slurm path and for the tests.
#
#   slurm/local-cluster.sh up       install slurm-wlm + munge if missing, start munged, slurmctld,
#                                   slurmd for node1 and node2; wait until both nodes are idle
#   slurm/local-cluster.sh down     stop the daemons this script started (by pid file), cancel jobs
#   slurm/local-cluster.sh status   sinfo + squeue
#
# Needs root (daemons, /etc/hosts, /etc/slurm) and apt-get when the packages are missing.
# State, spool and logs live under $SER_ORCH_SLURM_DIR (default /tmp/ser-orch-slurm).
# Each node gets CPUS_PER_NODE CPUs (default 2, never more than the machine has), so two small
# jobs can share both nodes at once.
set -euo pipefail

BASE=${SER_ORCH_SLURM_DIR:-/tmp/ser-orch-slurm}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARK="# written by ser-orch slurm/local-cluster.sh"
CPUS=${CPUS_PER_NODE:-2}
MEM_MB=${MEM_PER_NODE_MB:-6000}

die() { echo "local-cluster: $*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "needs root (it starts munged/slurmctld/slurmd and edits /etc/hosts)"; }

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return
  fi
  command -v apt-get >/dev/null || die "slurm-wlm/munge are missing and apt-get is not available"
  echo "local-cluster: installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
}

node_ip() { hostname -I 2>/dev/null | awk '{print $1}'; }

write_hosts() {
  # submitit and Ray resolve the Slurm node names; both point at this machine.
  local ip; ip=$(node_ip); [ -n "$ip" ] || ip=127.0.0.1
  local tmp; tmp=$(mktemp)
  grep -v ' # ser-orch-local-cluster$' /etc/hosts >"$tmp" || true
  echo "$ip node1 node2 # ser-orch-local-cluster" >>"$tmp"
  cat "$tmp" >/etc/hosts  # /etc/hosts may be a bind mount: rewrite in place, never rename
  rm -f "$tmp"
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi
  mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  fi
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
  chmod 400 /etc/munge/munge.key
  chmod 700 /etc/munge
  su -s /bin/sh munge -c /usr/sbin/munged
  for _ in $(seq 20); do munge -n | unmunge >/dev/null 2>&1 && return; sleep 0.5; done
  die "munged did not start (munge -n | unmunge fails)"
}

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; refusing to overwrite a real Slurm config"
  fi
  local host cores
  host=$(hostname -s)
  cores=$(nproc)
  [ "$CPUS" -le "$cores" ] || CPUS=$cores
  mkdir -p "$CONF_DIR" "$BASE"/{state,spool,log}
  cat >"$CONF" <<EOF
$MARK
ClusterName=serorch
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=6817
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool/%n
SlurmctldPidFile=$BASE/slurmctld.pid
SlurmdPidFile=$BASE/slurmd-%n.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmdTimeout=60
NodeName=node1 NodeHostname=$host NodeAddr=127.0.0.1 Port=6818 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
NodeName=node2 NodeHostname=$host NodeAddr=127.0.0.1 Port=6819 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=node1,node2 Default=YES MaxTime=60 State=UP
EOF
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_idle() {
  for _ in $(seq 60); do
    if [ "$(sinfo -h -N -o '%N %t' 2>/dev/null | grep -cE 'node[12] (idle|mix|alloc)')" = 2 ]; then
      sinfo -N; return 0
    fi
    sleep 1
  done
  sinfo -N || true
  die "nodes did not become idle; see $BASE/log/"
}

up() {
  need_root
  install_packages
  write_hosts
  start_munge
  write_conf
  pid_alive "$BASE/slurmctld.pid" || slurmctld
  sleep 1
  for n in node1 node2; do
    pid_alive "$BASE/slurmd-$n.pid" || slurmd -N "$n"
  done
  wait_idle
  # Nodes left DOWN by an earlier crash come back.
  scontrol update nodename=node1,node2 state=resume 2>/dev/null || true
  echo "local-cluster: up (config $CONF, state and logs in $BASE)"
}

down() {
  need_root
  if command -v scancel >/dev/null && [ -f "$CONF" ] && grep -qF "$MARK" "$CONF"; then
    scancel --full --partition=debug 2>/dev/null || true
  fi
  for f in "$BASE"/slurmd-node1.pid "$BASE"/slurmd-node2.pid "$BASE"/slurmctld.pid; do
    if pid_alive "$f"; then kill "$(cat "$f")" 2>/dev/null || true; fi
  done
  for f in "$BASE"/slurmd-node1.pid "$BASE"/slurmd-node2.pid "$BASE"/slurmctld.pid; do
    for _ in $(seq 20); do pid_alive "$f" || break; sleep 0.25; done
    rm -f "$f"
  done
  echo "local-cluster: down (munged left running; logs kept in $BASE/log)"
}

status() {
  sinfo -N 2>/dev/null || echo "local-cluster: not running"
  squeue 2>/dev/null || true
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
