#!/bin/bash
# swarm-lab/node entrypoint (runs under tini as PID 1): prepares the container for a nested
# dockerd and supervises it. keepalived is started by the platform's scripts (and here again after a restart);
# on SIGTERM keepalived stops first (the VIP moves), then dockerd (see "supervision" below).
#
# Arguments are appended to dockerd's command line.
# Environment:
#   DOCKERD_STORAGE_DRIVER  overlay2 | vfs | auto (default auto: overlay2 when /var/lib/docker is
#                           not itself on overlayfs and an overlay mount works, else vfs)
#   DOCKERD_TLS_DIR         folder with ca.pem, server-cert.pem, server-key.pem (default
#                           /etc/swarm-platform/engine-tls, uploaded by the program before the first
#                           start): when they exist the API also listens on tcp://0.0.0.0:2376 with
#                           --tlsverify (client certificates signed by that CA only). There is no
#                           plain-TCP listener: without them the engine is reachable on its unix socket only.
#   SWARM_FIREWALL          the node firewall's apply helper (default /usr/local/sbin/swarm-platform-firewall,
#                           installed by the program's node-firewall script): run before dockerd, so the
#                           rules are back after a restart of the node container (its netns is new).
#   NODE_IPTABLES           auto | nft | legacy (default auto: nft if it works, else legacy)
#   DOCKERD_CGROUP_PARENT   cgroup parent for inner containers (default: nested under this
#                           container's own cgroup when the host cgroup tree is bind-mounted)
#   DOCKERD_EXTRA_ARGS      extra dockerd flags (word-split)
#   NODE_STOP_VIP_SECONDS   on stop: seconds between keepalived's exit and the tasks' stop (default 2)
#   NODE_STOP_TASKS_SECONDS on stop: at most this long for the node's swarm tasks to stop before dockerd (default 5)
# sshd starts when /etc/ssh/ssh_host_ed25519_key exists (the image ships no host key: each node gets its own).
set -euo pipefail

log() { echo "node-entrypoint: $*" >&2; }

# --- stale state from a previous run of this container --------------------------------------
# /var/run is not a tmpfs here: after `docker restart` or `docker kill` + start it still holds the previous
# run's pid files, sockets and dockerd's exec-root (/var/run/docker: netns bind-mount targets, containerd
# state), which a fresh dockerd must not find. A real host clears /run at boot; do the same. keepalived's children's
# pid files go too: keepalived refuses to start ("daemon is already running") when one names a live process, and a
# run that starts as the previous one did reuses its low PIDs (lab y failed so in CI).
rm -rf /var/run/docker /var/run/docker.pid /var/run/docker.sock /var/run/keepalived.pid /run/vrrp.pid /run/checkers.pid /run/bfd.pid /run/sshd
# keepalived's state directory stays (keepalived-apply made it, owned by the user notify runs as): only its files go.
find /run/keepalived -mindepth 1 -delete 2>/dev/null || true

# --- mounts ------------------------------------------------------------------------------------
# shared propagation lets inner containers' volume mounts behave (as in docker:dind)
mount --make-rshared / 2>/dev/null || true

if grep -qE ' /sys/fs/cgroup(/[^ ]*)? [^ ]+ ro[, ]' /proc/mounts; then
  log "WARNING: /sys/fs/cgroup is not writable; run with -v /sys/fs/cgroup:/sys/fs/cgroup:rw"
fi

# cgroup v2 with a private cgroup namespace (as docker:dind does): move ourselves out of the root
# so that controllers can be enabled for children.
if [[ -f /sys/fs/cgroup/cgroup.controllers ]] && [[ "$(cat /proc/self/cgroup)" == "0::/" ]]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
  sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers \
    >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
fi

args=(--host=unix:///var/run/docker.sock)
tls="${DOCKERD_TLS_DIR:-/etc/swarm-platform/engine-tls}"
if [[ -s "$tls/ca.pem" && -s "$tls/server-cert.pem" && -s "$tls/server-key.pem" ]]; then
  chmod 0600 "$tls/server-key.pem"
  args+=(--host=tcp://0.0.0.0:2376 --tlsverify --tlscacert="$tls/ca.pem" --tlscert="$tls/server-cert.pem" --tlskey="$tls/server-key.pem")
fi

# --- cgroup parent: nest inner containers below this container's cgroup (cgroup v1 host tree) ---
cgparent="${DOCKERD_CGROUP_PARENT-auto}"
if [[ "$cgparent" == auto ]]; then
  cgparent=""
  own=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
  if [[ -n "$own" && "$own" != "/" && -d "/sys/fs/cgroup/memory$own" ]]; then
    cgparent="$own/dind"
  fi
fi
[[ -n "$cgparent" ]] && args+=(--cgroup-parent="$cgparent")

# --- storage driver --------------------------------------------------------------------------
driver="${DOCKERD_STORAGE_DRIVER:-auto}"
if [[ "$driver" == auto ]]; then
  mkdir -p /var/lib/docker
  if [[ -n "$(ls -A /var/lib/docker/overlay2 2>/dev/null)" ]]; then
    driver=overlay2
  elif [[ -n "$(ls -A /var/lib/docker/vfs/dir 2>/dev/null)" ]]; then
    driver=vfs
  elif [[ "$(stat -f -c %T /var/lib/docker)" == overlayfs ]]; then
    driver=vfs
  else
    probe=$(mktemp -d /var/lib/docker/.overlay-probe.XXXXXX)
    mkdir -p "$probe"/{l,u,w,m}
    if mount -t overlay overlay -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" "$probe/m" 2>/dev/null; then
      umount "$probe/m"
      driver=overlay2
    else
      driver=vfs
    fi
    rm -rf "$probe"
  fi
fi
args+=(--storage-driver="$driver")

# --- iptables backend ------------------------------------------------------------------------
use_ipt() {
  update-alternatives --quiet --set iptables "/usr/sbin/iptables-$1" >/dev/null
  update-alternatives --quiet --set ip6tables "/usr/sbin/ip6tables-$1" >/dev/null
}
case "${NODE_IPTABLES:-auto}" in
  nft | legacy) use_ipt "${NODE_IPTABLES}" ;;
  auto)
    use_ipt nft
    if ! { iptables -t nat -S && iptables -t filter -S; } >/dev/null 2>&1; then
      log "iptables-nft unusable, switching to iptables-legacy"
      use_ipt legacy
    fi
    ;;
  *) log "bad NODE_IPTABLES=${NODE_IPTABLES}"; exit 2 ;;
esac

# --- node firewall (after the iptables backend is chosen: the same one dockerd uses) -------------
firewall="${SWARM_FIREWALL:-/usr/local/sbin/swarm-platform-firewall}"
if [[ -x "$firewall" ]]; then
  "$firewall" || { log "the node firewall did not apply: not starting the engine"; exit 1; }
fi

# shellcheck disable=SC2206
args+=(${DOCKERD_EXTRA_ARGS:-} "$@")

# After a restart of the node container, bring keepalived back with the config keepalived-apply left
# (the platform's node image does the same: templates/node/entrypoint.sh).
if [[ -s /etc/keepalived/keepalived.conf ]]; then
  keepalived -D -p /run/keepalived.pid -f /etc/keepalived/keepalived.conf || log "keepalived did not start"
fi

# sshd for the ssh driver (the prod-like lab profile): only when a host key was put in place for this node.
if [[ -s /etc/ssh/ssh_host_ed25519_key ]]; then
  mkdir -p /run/sshd
  /usr/sbin/sshd || log "sshd did not start"
fi

# --- supervision: a stop that hands the VIP over before the engine goes ------------------------
# `docker stop`/`restart` sends SIGTERM to tini, which passes it here. keepalived goes first with SIGTERM (it
# sends priority 0: a backup takes the VIP in about 0.6 s) while this node's gateway still serves the requests
# in flight; only then the engine stops its containers. Exec'ing dockerd instead would leave keepalived to be
# killed last, after the gateway it guards is gone.
stop_grace="${NODE_STOP_VIP_SECONDS:-2}"
dockerd_pid=""
stopping=0
# shellcheck disable=SC2317 # called by the trap
stop_node() {
  trap - TERM INT
  stopping=1
  local pid
  pid=$(cat /run/keepalived.pid 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ && "$(cat "/proc/$pid/comm" 2>/dev/null)" == keepalived ]]; then
    log "stopping keepalived (pid $pid) first: the VIP moves while the gateway still serves"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    sleep "$stop_grace"
  fi
  # The node's swarm tasks stop while the engine and its overlay still run: a gateway elsewhere sees their
  # connections close, or refused, and retries on another task. Left to the engine's own stop, their overlay
  # endpoints vanish at once and requests in flight on the gateways' pooled connections hang.
  local tasks
  tasks=$(docker ps -q --filter label=com.docker.swarm.task 2>/dev/null || true)
  if [[ -n $tasks ]]; then
    log "stopping this node's swarm tasks while the engine still runs"
    # shellcheck disable=SC2086 # one id per word
    timeout "${NODE_STOP_TASKS_SECONDS:-5}" docker stop -t 3 $tasks >/dev/null 2>&1 || true
  fi
  log "stopping dockerd (pid $dockerd_pid)"
  kill -TERM "$dockerd_pid" 2>/dev/null || true
}
trap stop_node TERM INT

# --- the engine's leaked port allocation: restart the engine, not the node ---------------------
# After `docker kill` + start, dockerd 20.10 can keep a host port allocated for a task container whose start
# failed while the node came back (moby#33671): every later task of that service on this node then fails with
# "port is already allocated" (the gateway never returns). A fresh dockerd has a fresh allocator: the engine's log
# passes through this watcher, and the third such failure within 2 minutes, for a port no running container
# publishes, restarts dockerd (at most 3 times per node start). Every line still reaches the container's log.
engine_log=/run/dockerd.log.fifo
restart_flag=/run/dockerd.restart
rm -f "$engine_log" "$restart_flag"
mkfifo "$engine_log"
watch_engine_log() {
  local line seen=0 first=0
  while IFS= read -r line <&7; do
    printf '%s\n' "$line" >&2
    [[ $line =~ Bind\ for\ ([0-9.:]+):([0-9]+)\ failed:\ port\ is\ already\ allocated ]] || continue
    # a running container that publishes the port holds it for real (a conflict in the stack, not the leak)
    if docker ps --format '{{.Ports}}' 2>/dev/null | grep -q ":${BASH_REMATCH[2]}->"; then continue; fi
    ((SECONDS - first < 120)) || { first=$SECONDS; seen=0; }
    seen=$((seen + 1))
    if ((seen == 3)); then
      log "dockerd failed 3 task starts with a port it holds for no container: restarting dockerd"
      touch "$restart_flag"
      kill -TERM "$(cat /run/dockerd.supervised.pid 2>/dev/null)" 2>/dev/null || true
      seen=0
    fi
  done
}
# read-write: the watcher never sees end-of-file when one dockerd exits and the next one opens the pipe
watch_engine_log 7<>"$engine_log" &

restarts=0
rc=0
while :; do
  rm -f "$restart_flag"
  log "starting dockerd ${args[*]}"
  /usr/sbin/dockerd "${args[@]}" 2>"$engine_log" &
  dockerd_pid=$!
  echo "$dockerd_pid" >/run/dockerd.supervised.pid
  # `wait` returns early when a trapped signal arrives: keep waiting until dockerd itself has exited.
  while kill -0 "$dockerd_pid" 2>/dev/null; do
    wait "$dockerd_pid" && rc=0 || rc=$?
  done
  log "dockerd exited ($rc)"
  if ((stopping == 0)) && [[ -f $restart_flag ]] && ((restarts < 3)); then
    restarts=$((restarts + 1))
    continue
  fi
  break
done
exit "$rc"
