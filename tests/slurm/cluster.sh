#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost (munge + slurmctld + slurmd), for afuse's tests
# of the submitit launcher. No systemd needed: the daemons are started directly, with all their
# state, sockets, pid files and logs under one directory.
#
#   tests/slurm/cluster.sh start    install slurm-wlm + munge if missing, start, wait until the node is idle
#   tests/slurm/cluster.sh stop     cancel this cluster's jobs and stop its daemons
#   tests/slurm/cluster.sh status   daemons, `scontrol ping`, `sinfo`, `squeue`; exit 1 if not up
#   tests/slurm/cluster.sh env      print `export SLURM_CONF=...` (use: eval "$(tests/slurm/cluster.sh env)")
#   tests/slurm/cluster.sh logs     the last lines of the daemons' logs
#   tests/slurm/cluster.sh install  only the apt-get install (as root)
#
# Environment: AFUSE_SLURM_DIR (default /tmp/afuse-slurm), AFUSE_SLURM_CTLD_PORT (16817),
# AFUSE_SLURM_SLURMD_PORT (16818), AFUSE_SLURM_TIMEOUT (seconds to wait for the node, 90).
# `start` is idempotent: a cluster already up under AFUSE_SLURM_DIR is reused as it is.
# Clients (sbatch, squeue, the tests) find this cluster through SLURM_CONF=$AFUSE_SLURM_DIR/etc/slurm.conf.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${AFUSE_SLURM_DIR:-/tmp/afuse-slurm}
CTLD_PORT=${AFUSE_SLURM_CTLD_PORT:-16817}
SLURMD_PORT=${AFUSE_SLURM_SLURMD_PORT:-16818}
TIMEOUT=${AFUSE_SLURM_TIMEOUT:-90}
HOST=$(hostname -s)
export SLURM_CONF=$DIR/etc/slurm.conf
# The daemons live in /usr/sbin, which a non-login shell of a non-root user may not have on PATH.
export PATH=$PATH:/usr/sbin:/sbin

log() { echo "cluster.sh: $*" >&2; }

STARTING=0

die() {
    log "error: $*"
    show_logs
    # A half-started cluster is stopped, so the next `start` begins from scratch.
    if ((STARTING)); then stop_daemons; fi
    exit 1
}

show_logs() {
    local f
    for f in "$DIR"/log/*.stderr; do  # early start-up errors, before a daemon opens its log
        if [[ -s $f ]]; then echo "----- $f -----" >&2 && tail -n 20 "$f" >&2; fi
    done
    for f in "$DIR/log/munged.log" "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log"; do
        echo "----- last lines of $f -----" >&2
        if [[ -s $f ]]; then tail -n 40 "$f" >&2; else echo "(missing or empty)" >&2; fi
    done
}

have_binaries() {
    local cmd
    for cmd in munged munge slurmctld slurmd sbatch srun squeue scontrol sinfo; do
        command -v "$cmd" >/dev/null || return 1
    done
}

install_packages() {
    have_binaries && return 0
    [[ $(id -u) -eq 0 ]] || die "slurm-wlm and munge are not installed and installing needs root: sudo apt-get install -y slurm-wlm munge"
    command -v apt-get >/dev/null || die "slurm-wlm and munge are not installed and there is no apt-get here"
    log "installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh CI image may have no package lists yet: update once, only when the first try fails.
    if ! apt-get install -y -q --no-install-recommends slurm-wlm munge >"$DIR/log/apt.log" 2>&1; then
        apt-get update -q >>"$DIR/log/apt.log" 2>&1 || true
        apt-get install -y -q --no-install-recommends slurm-wlm munge >>"$DIR/log/apt.log" 2>&1 ||
            { tail -n 30 "$DIR/log/apt.log" >&2; die "apt-get install slurm-wlm munge failed (log: $DIR/log/apt.log)"; }
    fi
    have_binaries || die "slurm-wlm/munge installed but some commands are still missing from PATH ($PATH)"
}

# pid of a daemon of ours from its pid file, if that process is alive and still that daemon
# (a stale pid file may name a recycled pid: never signal someone else's process).
live_pid() {
    local pidfile=$DIR/run/$1.pid pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] && echo "$pid"
}

ctld_up() { scontrol ping 2>/dev/null | grep -q "is UP"; }

is_up() {
    live_pid munged >/dev/null && live_pid slurmctld >/dev/null && live_pid slurmd >/dev/null && ctld_up
}

node_state() { sinfo -h -N -n "$HOST" -o %t 2>/dev/null | head -n 1; }

write_config() {
    mkdir -p "$DIR/etc" "$DIR/state" "$DIR/slurmd"
    # munged refuses keys that others can read; a private key keeps this cluster self-contained.
    if [[ ! -s $DIR/etc/munge.key ]]; then
        (umask 077 && dd if=/dev/urandom of="$DIR/etc/munge.key" bs=1024 count=1 status=none)
    fi
    chmod 400 "$DIR/etc/munge.key"
    # The node's real CPUs/sockets/cores/memory, as slurmd itself sees them (first line of `slurmd -C`).
    local hw
    hw=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]* //')
    [[ $hw == *CPUs=* ]] || die "cannot read this machine's hardware from 'slurmd -C': $hw"
    sed -e "s|@DIR@|$DIR|g" -e "s|@HOST@|$HOST|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
        -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" -e "s|@NODE_HW@|$hw|g" \
        "$HERE/slurm.conf.in" >"$SLURM_CONF.tmp"
    mv "$SLURM_CONF.tmp" "$SLURM_CONF"
    # gres.conf sits beside slurm.conf. slurmd drops a GPU without a device file, so the pretend
    # GPU gets /dev/null (a character device; no cgroup device constraint here, nothing opens it).
    echo "NodeName=$HOST Name=gpu File=/dev/null" >"$DIR/etc/gres.conf"
}

# Start a self-daemonizing daemon. It must not inherit our lock (fd 9: it would hold the lock for
# its whole life) nor the caller's stdout/stderr (a caller reading them, like pytest, would wait
# for the daemon to exit); what it prints before its log file is open goes to log/<name>.stderr.
daemon() {
    local name=$1
    "$@" </dev/null >"$DIR/log/$name.stderr" 2>&1 9>&- || die "$name did not start (exit $?)"
}

start_munge() {
    daemon munged --force --socket="$DIR/run/munge.socket" --key-file="$DIR/etc/munge.key" \
        --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/state/munged.seed"
    munge -n -S "$DIR/run/munge.socket" | unmunge -S "$DIR/run/munge.socket" >/dev/null ||
        die "munge does not answer on $DIR/run/munge.socket"
}

start_slurm() {
    # -c: a fresh controller state (no jobs left over from an earlier, crashed test cluster).
    daemon slurmctld -c -f "$SLURM_CONF"
    daemon slurmd -f "$SLURM_CONF" -N "$HOST"
}

# Until the controller answers and the node takes jobs, or TIMEOUT seconds.
wait_ready() {
    local deadline=$((SECONDS + TIMEOUT)) state=""
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        if ctld_up; then
            case $state in
            idle | mix | alloc | comp) return 0 ;;
            # The node's hardware or GRES do not match slurm.conf: waiting will not fix it.
            inval) sinfo -R >&2 || true; die "slurmctld rejected node $HOST as INVALID (reason above)" ;;
            drain* | drng | down)
                # ReturnToService=2 brings a node back when slurmd registers; this is the rest.
                scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
            esac
        fi
        sleep 1
    done
    sinfo -R >&2 2>/dev/null || true
    die "the node $HOST is not ready after ${TIMEOUT}s (state: '${state:-no answer}')"
}

# Serialise start and stop: two test sessions starting at once, the second waits and then finds
# the cluster up; a stop never pulls the daemons from under a start.
take_lock() {
    mkdir -p "$DIR/log" "$DIR/run"
    chmod 755 "$DIR" "$DIR/run"
    exec 9>"$DIR/lock"
    flock -w 300 9 || die "another cluster.sh holds $DIR/lock"
}

cmd_start() {
    take_lock
    install_packages
    if is_up; then
        log "already running (SLURM_CONF=$SLURM_CONF)"
    else
        STARTING=1
        stop_daemons
        write_config
        start_munge
        start_slurm
    fi
    wait_ready
    STARTING=0
    log "up: node $HOST $(node_state), SLURM_CONF=$SLURM_CONF"
}

stop_pid() {
    local name=$1 pid _
    pid=$(live_pid "$name") || { rm -f "$DIR/run/$name.pid"; return 0; }
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do  # up to 10 s for a clean shutdown
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$DIR/run/$name.pid"
}

stop_daemons() {
    stop_pid slurmd
    stop_pid slurmctld
    stop_pid munged
}

cmd_stop() {
    take_lock
    if ctld_up; then
        # Cancel this cluster's jobs first, so no job step outlives its slurmd.
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            sleep 2
        fi
    fi
    stop_daemons
    log "stopped"
}

cmd_status() {
    local name
    for name in munged slurmctld slurmd; do
        echo "$name: $(live_pid "$name" || echo 'not running')"
    done
    echo "SLURM_CONF=$SLURM_CONF"
    if ctld_up; then
        scontrol ping
        sinfo
        squeue
    else
        echo "slurmctld does not answer"
        return 1
    fi
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) echo "export SLURM_CONF=$SLURM_CONF" ;;
logs) show_logs ;;
install) mkdir -p "$DIR/log" && install_packages ;;
*)
    echo "usage: $0 start|stop|status|env|logs|install" >&2
    exit 2
    ;;
esac
