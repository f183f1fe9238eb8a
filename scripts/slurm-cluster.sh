#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine (Debian 12, slurm-wlm + munge, as
# root, no systemd, no cgroups) for the tests: `up` installs and starts it, `down`
# cancels every job and stops it. Fake GPUs are character devices behind GRES `gpu`.
set -euo pipefail

NCPU=$(( $(nproc) > 4 ? $(nproc) : 4 ))  # advertise >= 4 CPUs (config_overrides) so 4 tasks fit on 2 cores
NGPU=4
FAKEGPU_DIR=/var/lib/slurm/fakegpu

install_packages() {
    local missing=()
    for p in slurm-wlm munge bc; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

up() {
    install_packages
    [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
    chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge
    chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    munge -n >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
    munge -n | unmunge >/dev/null

    mkdir -p "$FAKEGPU_DIR"
    for i in $(seq 0 $((NGPU - 1))); do
        [ -e "$FAKEGPU_DIR/nvidia$i" ] || mknod "$FAKEGPU_DIR/nvidia$i" c 1 3 || ln -sf /dev/null "$FAKEGPU_DIR/nvidia$i"
    done

    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    cat > /etc/slurm/slurm.conf <<CONF
ClusterName=mgprci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=10
GresTypes=gpu
NodeName=localhost CPUs=$NCPU Gres=gpu:$NGPU State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    cat > /etc/slurm/gres.conf <<CONF
AutoDetect=off
NodeName=localhost Name=gpu File=$FAKEGPU_DIR/nvidia[0-$((NGPU - 1))]
CONF
    rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
    slurmctld -c
    slurmd -N localhost
    local st=""
    for _ in $(seq 1 100); do
        st=$(sinfo -h -N -o %t 2>/dev/null || true)
        [ "$st" = idle ] && { echo "slurm: up" >&2; return 0; }
        sleep 0.2
    done
    echo "slurm failed to come up (node state: '$st')" >&2
    tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2
    return 1
}

down() {
    if [ -f /run/slurmctld.pid ]; then
        squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null || true
        for _ in $(seq 1 200); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
    fi
    for f in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
        [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null || true
        for _ in $(seq 1 100); do [ -f "$f" ] || break; sleep 0.1; done
    done
    rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
    echo "slurm: down" >&2
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
