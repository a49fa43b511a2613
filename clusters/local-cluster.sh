#!/usr/bin/env bash
# A multi-node Ray cluster on this one machine, for trying the cluster path without a cloud:
# a head node that offers no CPUs or GPUs (so no trial lands on it, like the cloud configs' head)
# and N worker nodes, each a separate raylet with its own CPUs, logical GPUs and custom resources.
#
#   clusters/local-cluster.sh start N   # head + N workers; idempotent (same N again: "already running")
#   clusters/local-cluster.sh status    # `ray status` of this cluster
#   clusters/local-cluster.sh stop      # stops exactly this cluster's processes and removes its temp dir
#
# Then:  RAY_ADDRESS=127.0.0.1:6390 posetune search launch --config demo --name demo
#
# The head needs no CPUs: the search's driver (`posetune search launch`) is a plain process that
# connects to the cluster; it is not a Ray task and holds no Ray resources. Trials, the Ray Data
# enhancement tasks and their actors all ask for CPUs (or `enhance_cpu`) and therefore run on workers.
#
# Knobs (environment variables):
#   POSETUNE_CLUSTER_PORT       GCS port of the head (default 6390); the cluster's identity
#   POSETUNE_CLUSTER_DIR        Ray temp dir of this cluster (default /tmp/posetune-cluster-$PORT)
#   POSETUNE_WORKER_CPUS        CPUs per worker (default 1)
#   POSETUNE_WORKER_GPUS        logical GPUs per worker (default 1; Ray schedules on them, CUDA sees none)
#   POSETUNE_WORKER_RESOURCES   custom resources per worker, JSON (default {"enhance_cpu": 1})
#   RAY                         the `ray` CLI to use (default: `ray` on PATH, i.e. the active venv)
#   RAY_AUTH_MODE               default `disabled` here (loopback); set `token` to require Ray's token,
#                               and then every driver needs RAY_AUTH_MODE=token too.
#
# Why not `ray stop`: it kills every Ray process on the machine, including other users' clusters and
# test runs. This script owns a private temp dir and stops only processes whose command line names
# it, plus their children (workers and agents rename themselves to `ray::...`).
set -euo pipefail

PORT="${POSETUNE_CLUSTER_PORT:-6390}"
DIR="${POSETUNE_CLUSTER_DIR:-/tmp/posetune-cluster-$PORT}"
WORKER_CPUS="${POSETUNE_WORKER_CPUS:-1}"
WORKER_GPUS="${POSETUNE_WORKER_GPUS:-1}"
WORKER_RESOURCES="${POSETUNE_WORKER_RESOURCES:-{\"enhance_cpu\": 1\}}"
RAY="${RAY:-ray}"
ADDRESS="127.0.0.1:$PORT"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Token auth: Ray 2.60 turns it on for `ray start` when ~/.ray/auth_token exists; on loopback we default
# to off so that any local driver can connect. An explicit RAY_AUTH_MODE is respected.
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}"
# "posetune installed on every node": here every node is this checkout, so Ray's worker processes get it
# on their path (they inherit the raylet's environment).
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export RAY_USAGE_STATS_ENABLED=0

say() { echo "local-cluster: $*"; }
die() { echo "local-cluster: error: $*" >&2; exit 1; }

# pids of this cluster: living processes whose command line names $DIR, and all their descendants
# (one `ps` snapshot; $DIR reaches awk through the environment so awk does not match itself).
cluster_pids() {
    ps -eo pid=,ppid=,stat=,args= | CLUSTER_DIR="$DIR/" SELF="$$" awk '
        {
            pid = $1; ppid[pid] = $2; stat[pid] = $3
            $1 = $2 = $3 = ""
            if (index($0, ENVIRON["CLUSTER_DIR"]) && pid != ENVIRON["SELF"]) keep[pid] = 1
        }
        END {
            do {  # children of kept processes are kept (workers and agents rename themselves ray::...)
                grew = 0
                for (pid in ppid) if (!(pid in keep) && (ppid[pid] in keep)) { keep[pid] = 1; grew = 1 }
            } while (grew)
            for (pid in keep) if (stat[pid] !~ /^Z/) printf "%s ", pid  # zombies are dead already
        }'
}

# Number of raylets (nodes) of this cluster that are alive.
count_raylets() { pgrep -f -- "raylet --raylet_socket_name=$DIR/" | wc -l; }
head_alive() { pgrep -f -- "gcs_server --log_dir=$DIR/" >/dev/null; }

stop() {
    local pids left
    pids="$(cluster_pids)"
    if [[ -z "$pids" ]]; then
        say "no cluster running at $DIR (nothing to stop)"
    else
        say "stopping $(count_raylets) node(s): $(echo "$pids" | wc -w) processes"
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        # Ray's daemons take a few seconds to exit cleanly; gcs_server often ignores SIGTERM. 5 s, then SIGKILL
        # (what `ray stop --force` sends straight away).
        for _ in $(seq 1 10); do
            left="$(cluster_pids)"
            [[ -z "$left" ]] && break
            sleep 0.5
        done
        left="$(cluster_pids)"
        if [[ -n "$left" ]]; then
            say "still alive after 5 s, sending SIGKILL to: $left"
            # shellcheck disable=SC2086
            kill -KILL $left 2>/dev/null || true
            sleep 1
        fi
        left="$(cluster_pids)"
        [[ -z "$left" ]] || die "could not stop processes: $left"
    fi
    rm -rf -- "$DIR"
    # Ray's default address file: if it points at this cluster, it is stale now and would make a later
    # plain `ray.init()` try to join a dead cluster.
    local current=/tmp/ray/ray_current_cluster
    if [[ -f "$current" ]] && grep -q ":$PORT\$" "$current"; then
        rm -f -- "$current" && say "removed stale $current"
    fi
    say "stopped"
}

start() {
    local workers="$1" running
    [[ "$workers" =~ ^[0-9]+$ ]] || die "start needs a number of worker nodes, got '$workers'"
    command -v "$RAY" >/dev/null || die "'$RAY' not found: activate the venv where posetune is installed or set RAY=/path/to/ray"
    if head_alive; then
        running=$(($(count_raylets) - 1))
        if ((running == workers)); then
            say "already running at $ADDRESS with $running worker node(s)"
            return 0
        fi
        die "already running at $ADDRESS with $running worker node(s), not $workers: run '$0 stop' first"
    fi
    if [[ -n "$(cluster_pids)" ]]; then
        say "found leftovers of a dead cluster at $DIR: cleaning up first"
        stop
    fi
    mkdir -p "$DIR"
    say "starting head at $ADDRESS (no CPUs/GPUs for trials, dashboard off, temp dir $DIR)"
    "$RAY" start --head --port="$PORT" --num-cpus=0 --num-gpus=0 \
        --include-dashboard=false --temp-dir="$DIR" --disable-usage-stats \
        >"$DIR/start-head.log" 2>&1 || { cat "$DIR/start-head.log" >&2; stop >/dev/null; die "the head did not start (port $PORT in use?)"; }
    for i in $(seq 1 "$workers"); do
        say "starting worker $i/$workers: CPU=$WORKER_CPUS GPU=$WORKER_GPUS resources=$WORKER_RESOURCES"
        "$RAY" start --address="$ADDRESS" --num-cpus="$WORKER_CPUS" --num-gpus="$WORKER_GPUS" \
            --resources="$WORKER_RESOURCES" --temp-dir="$DIR" --disable-usage-stats \
            >"$DIR/start-worker-$i.log" 2>&1 || { cat "$DIR/start-worker-$i.log" >&2; stop >/dev/null; die "worker $i did not start"; }
    done
    # `ray start` returns before the GCS lists the node everywhere: wait until all are alive.
    local alive=0
    for _ in $(seq 1 30); do
        alive="$("$RAY" status --address="$ADDRESS" 2>/dev/null | grep -c '^ 1 node_' || true)"
        ((alive == workers + 1)) && break
        sleep 1
    done
    ((alive == workers + 1)) || die "only $alive of $((workers + 1)) nodes came up; see $DIR/start-*.log"
    say "running: head + $workers worker node(s). Use it with:"
    echo "  export RAY_ADDRESS=$ADDRESS RAY_AUTH_MODE=$RAY_AUTH_MODE"
    echo "  posetune search launch --config demo --name demo   # or --address $ADDRESS"
}

status() {
    if ! head_alive; then
        say "not running (no head at $DIR)"
        return 3
    fi
    say "$(($(count_raylets) - 1)) worker node(s) at $ADDRESS"
    "$RAY" status --address="$ADDRESS"
}

case "${1:-}" in
    start) start "${2:-}" ;;
    stop) stop ;;
    status) status ;;
    *)
        echo "usage: $0 start N | stop | status" >&2
        exit 2
        ;;
esac
