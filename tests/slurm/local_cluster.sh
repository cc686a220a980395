#!/usr/bin/env bash
# Start or stop a one-node SLURM cluster on this machine, for tests.
#
#   local_cluster.sh start STATE_DIR   start munged, slurmctld and slurmd
#   local_cluster.sh stop STATE_DIR    stop the daemons whose PIDs start saved
#
# Everything lives in STATE_DIR: configs, keys, logs, spool and PID files.
# Clients find the cluster through SLURM_CONF=STATE_DIR/slurm.conf. The
# daemons run as root in the foreground of background shells, so their PIDs
# are known, and listen on 127.0.0.1 only: NoCtldInAddrAny and NoInAddrAny
# make them bind to the address of the node name, localhost, which resolves
# to 127.0.0.1. There is no accounting database, so Snakemake's SLURM executor
# needs --slurm-status-command squeue.
#
# Snakemake's job step plugin (snakemake-executor-plugin-slurm-jobstep 0.6)
# removes SLURM_CONF from the environment of the srun it starts inside each
# job, so srun reads the default /etc/slurm/slurm.conf. start therefore links
# that path to STATE_DIR/slurm.conf, and refuses if another file is there;
# stop removes the link.
set -euo pipefail

SYSTEM_CONF=/etc/slurm/slurm.conf

usage() {
    echo "usage: $0 start|stop STATE_DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
action=$1
state=$(realpath -m "$2")

stop_cluster() {
    local pid_file pid name
    for name in slurmd slurmctld munged; do
        pid_file="$state/$name.pid"
        [ -f "$pid_file" ] || continue
        pid=$(cat "$pid_file")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.2
            done
            if kill -0 "$pid" 2>/dev/null; then
                echo "$name (PID $pid) did not stop on SIGTERM; sending SIGKILL" >&2
                kill -KILL "$pid"
            fi
        fi
        rm -f "$pid_file"
    done
    if [ -L "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF")" = "$state/slurm.conf" ]; then
        rm "$SYSTEM_CONF"
    fi
}

start_cluster() {
    local command
    for command in munged slurmctld slurmd sinfo sbatch squeue; do
        if ! command -v "$command" >/dev/null; then
            echo "$command not found: install Debian's slurm-wlm and munge packages" >&2
            exit 1
        fi
    done
    if [ "$(id -u)" -ne 0 ]; then
        echo "the local cluster runs its daemons as root; run this as root" >&2
        exit 1
    fi
    # The node is named localhost whatever the machine's name (slurmd -N), so
    # that its name resolves to 127.0.0.1 on any machine.
    node=localhost
    if [ "$(getent ahostsv4 "$node" | awk 'NR == 1 {print $1}')" != "127.0.0.1" ]; then
        echo "localhost must resolve to 127.0.0.1, so that the daemons listen on" \
            "loopback only; add '127.0.0.1 localhost' to /etc/hosts" >&2
        exit 1
    fi

    if [ -e "$SYSTEM_CONF" ] || [ -L "$SYSTEM_CONF" ]; then
        if [ "$(readlink "$SYSTEM_CONF" || true)" != "$state/slurm.conf" ]; then
            echo "$SYSTEM_CONF exists and is not this test cluster's; this script" \
                "will not replace the configuration of a real cluster" >&2
            exit 1
        fi
    fi

    mkdir -p "$state/ctld" "$state/spool" "$state/munge"
    chmod 700 "$state/munge"
    if [ ! -f "$state/munge/munge.key" ]; then
        dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none
        chmod 400 "$state/munge/munge.key"
    fi
    cpus=$(nproc)
    # Leave a quarter of the memory to the machine itself.
    memory_mb=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 3 / 4}' /proc/meminfo)

    cat > "$state/slurm.conf" <<CONF
ClusterName=prunelab-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
AuthInfo=socket=$state/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.daemon.pid
SlurmdPidFile=$state/slurmd.daemon.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF

    mkdir -p "$(dirname "$SYSTEM_CONF")"
    ln -sfn "$state/slurm.conf" "$SYSTEM_CONF"
    export SLURM_CONF="$state/slurm.conf"
    munged --foreground --force --key-file="$state/munge/munge.key" \
        --socket="$state/munge/munge.socket" --seed-file="$state/munge/munge.seed" \
        --pid-file="$state/munge/munged.pid" --log-file="$state/munged.log" \
        > "$state/munged.out" 2>&1 &
    echo $! > "$state/munged.pid"
    for _ in $(seq 50); do
        [ -S "$state/munge/munge.socket" ] && break
        sleep 0.1
    done
    slurmctld -D -i -f "$state/slurm.conf" > "$state/slurmctld.out" 2>&1 &
    echo $! > "$state/slurmctld.pid"
    slurmd -D -N "$node" -f "$state/slurm.conf" > "$state/slurmd.out" 2>&1 &
    echo $! > "$state/slurmd.pid"

    for _ in $(seq 150); do
        if sinfo --noheader --format=%t 2>/dev/null | grep -q '^idle'; then
            echo "SLURM cluster up: export SLURM_CONF=$state/slurm.conf"
            return 0
        fi
        sleep 0.2
    done
    echo "the node did not become idle within 30 s; logs in $state" >&2
    tail -n 20 "$state"/*.log "$state"/*.out >&2 || true
    stop_cluster
    exit 1
}

case $action in
    start) start_cluster ;;
    stop) stop_cluster ;;
    *) usage ;;
esac
