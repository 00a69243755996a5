#!/usr/bin/env bash
# Ensure the host Docker daemon of the swarm lab is running.
#
#   bash test/lab/dockerd.sh        # start it if `docker info` fails
#   . test/lab/dockerd.sh           # same, from a calling shell (its options are left untouched)
#
# Idempotent: does nothing when `docker info` already answers.
# Log: ${LAB_DOCKERD_LOG:-/tmp/lab-dockerd.log}. Waits up to ${LAB_DOCKERD_TIMEOUT:-60} s.
#
# Sandbox notes (Firecracker VM, Debian bookworm, no systemd, kernel without IPVS/modules):
#   * cgroups: v1 hybrid hierarchy is normally pre-mounted; if nothing is mounted we mount it.
#   * storage: overlay2 when the data root is on a real fs (ext4 here), vfs when overlay mounts
#     are impossible (e.g. data root itself on overlayfs). Override: LAB_DOCKERD_STORAGE_DRIVER.
#   * iptables: the default alternative (iptables-nft) works; falls back to iptables-legacy via a
#     PATH shim, and to --iptables=false as a last resort.
#   * extra dockerd flags: LAB_DOCKERD_ARGS (word-split).
#   * journal-less ext4 (this machine's root fs): the data root goes on a journaled ext4 image mounted by loop
#     (see journaled_data_root below). LAB_DOCKERD_JOURNALED=0 keeps it on the host's fs; an explicit
#     LAB_DOCKERD_DATA_ROOT is used as given.

_lab_dockerd_main() (
  set -euo pipefail

  local log="${LAB_DOCKERD_LOG:-/tmp/lab-dockerd.log}"
  local timeout="${LAB_DOCKERD_TIMEOUT:-60}"
  local data_root="${LAB_DOCKERD_DATA_ROOT:-/var/lib/docker}"
  local shim_dir=/run/lab-dockerd/bin

  say() { echo "lab-dockerd: $*" >&2; }

  # Without a journal, ext4 will not reuse an inode freed in the last 5 s (300 s while its inode table block is
  # still dirty): every file created after a mass delete walks past them (fs/ext4/ialloc.c, recently_deleted()).
  # The lab deletes whole node engines at every teardown, then untars images into new ones: measured here, one
  # 98 MB image layer (4,000 files) took 3.25 s of kernel time after a delete on a journal-less ext4 and 0.17 s on a
  # journaled one. So the data root goes on a sparse journaled ext4 image (mounted with discard: space freed inside
  # goes back to the host), sized to 80 % of the free space when it is made, 100 GiB at most.
  journaled_data_root() { # prints the data root to use
    local mnt=/var/lib/swarm-lab/docker img=${LAB_DOCKERD_IMAGE:-/var/lib/swarm-lab/docker.ext4}
    if mountpoint -q "$mnt"; then echo "$mnt"; return 0; fi
    local src fstype
    read -r src fstype < <(findmnt -no SOURCE,FSTYPE -T "$(dirname "$img")" 2>/dev/null || findmnt -no SOURCE,FSTYPE -T /var/lib)
    # jbd2 names a journal by its kernel device (dm-0, not /dev/mapper/root)
    if [[ $fstype != ext4 ]] || compgen -G "/proc/fs/jbd2/$(basename "$(readlink -f "$src")")-*" >/dev/null; then
      echo "$data_root"; return 0 # not ext4, or journaled: nothing to work around
    fi
    mkdir -p "$(dirname "$img")" "$mnt"
    if [[ ! -s $img ]]; then
      local free_gb size_gb
      free_gb=$(df -B1G --output=avail "$(dirname "$img")" | tail -1 | tr -d ' ')
      size_gb=$((free_gb * 8 / 10 > 100 ? 100 : free_gb * 8 / 10))
      if ((size_gb < 8)); then
        say "WARNING: $src is ext4 without a journal and only ${free_gb} GiB are free: data root left on it (image untars will be slow after teardowns)"
        echo "$data_root"; return 0
      fi
      if ! { truncate -s "${size_gb}G" "$img.part" && mkfs.ext4 -q -F -L swarm-lab-docker "$img.part" >&2; }; then
        rm -f "$img.part"
        say "WARNING: could not make a journaled ext4 image at $img: data root left on $src (image untars will be slow after teardowns)"
        echo "$data_root"; return 0
      fi
      mv -f "$img.part" "$img"
      say "made $img (${size_gb} GiB, sparse, journaled ext4): $src has no journal"
    fi
    if ! mount -o loop,discard "$img" "$mnt" 2>/dev/null; then
      say "WARNING: could not mount $img by loop: data root left on $src (image untars will be slow after teardowns)"
      echo "$data_root"; return 0
    fi
    say "data root on $img (journaled ext4, mounted on $mnt)"
    echo "$mnt"
  }

  if docker info >/dev/null 2>&1; then
    return 0
  fi

  if [[ $(id -u) -ne 0 ]]; then
    say "docker info fails and we are not root; cannot start dockerd"
    return 1
  fi
  command -v dockerd >/dev/null || { say "dockerd not installed (apt-get install docker.io)"; return 1; }

  # A dockerd may already be starting (e.g. two callers racing): give it a chance first.
  if pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd process exists but does not answer yet; waiting"
  else
    # --- cgroups -----------------------------------------------------------------------
    if ! grep -qE ' /sys/fs/cgroup[/ ]' /proc/mounts; then
      if grep -qw cgroup2 /proc/filesystems && mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null; then
        say "mounted cgroup2 on /sys/fs/cgroup"
      else
        mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
        local ctrl
        # shellcheck disable=SC2013 # controller names are single words
        for ctrl in $(awk 'NR>1 && $4==1 {print $1}' /proc/cgroups); do
          mkdir -p "/sys/fs/cgroup/$ctrl"
          mount -t cgroup -o "$ctrl" cgroup "/sys/fs/cgroup/$ctrl" 2>/dev/null || rmdir "/sys/fs/cgroup/$ctrl"
        done
        say "mounted cgroup v1 controllers on /sys/fs/cgroup"
      fi
    fi

    # --- data root ---------------------------------------------------------------------
    if [[ -z ${LAB_DOCKERD_DATA_ROOT:-} && ${LAB_DOCKERD_JOURNALED:-auto} != 0 ]]; then
      data_root=$(journaled_data_root)
    fi

    # --- storage driver ----------------------------------------------------------------
    local driver="${LAB_DOCKERD_STORAGE_DRIVER:-}"
    mkdir -p "$data_root"
    if [[ -z "$driver" ]]; then
      if [[ -d "$data_root/overlay2" && -n "$(ls -A "$data_root/overlay2" 2>/dev/null)" ]]; then
        driver=overlay2
      elif [[ -d "$data_root/vfs" && -n "$(ls -A "$data_root/vfs/dir" 2>/dev/null)" ]]; then
        driver=vfs
      else
        # probe: can we mount overlayfs with upper/work dirs on the data root's filesystem?
        local probe
        probe=$(mktemp -d "$data_root/.overlay-probe.XXXXXX")
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

    # --- iptables ------------------------------------------------------------------------
    local -a args=(--storage-driver="$driver" --data-root="$data_root")
    local path="$PATH"
    if iptables -t nat -S >/dev/null 2>&1 && iptables -t filter -S >/dev/null 2>&1; then
      :
    elif command -v iptables-legacy >/dev/null && iptables-legacy -t nat -S >/dev/null 2>&1; then
      mkdir -p "$shim_dir"
      local t
      for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
        command -v "${t/tables/tables-legacy}" >/dev/null 2>&1 && ln -sf "$(command -v "${t/tables/tables-legacy}")" "$shim_dir/$t"
      done
      path="$shim_dir:$PATH"
      say "using iptables-legacy (nft backend unusable)"
    else
      args+=(--iptables=false)
      say "WARNING: no working iptables; starting dockerd with --iptables=false (no NAT for containers)"
    fi

    # shellcheck disable=SC2206
    args+=(${LAB_DOCKERD_ARGS:-})

    {
      echo "=== $(date -Is) starting: dockerd ${args[*]}"
    } >>"$log"
    say "starting dockerd (${args[*]}); log: $log"
    PATH="$path" setsid nohup dockerd "${args[@]}" >>"$log" 2>&1 </dev/null &
  fi

  local i
  for ((i = 0; i < timeout; i++)); do
    if docker info >/dev/null 2>&1; then
      say "dockerd is up (after ${i}s)"
      return 0
    fi
    sleep 1
  done
  say "dockerd did not answer within ${timeout}s; last log lines:"
  tail -n 30 "$log" >&2 || true
  return 1
)

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  _lab_dockerd_main "$@"
else
  _lab_dockerd_main "$@" || return $?
fi
