#!/usr/bin/env bash
# Build the swarm-lab images without any registry: Debian rootfs via debootstrap (from the Debian
# mirror only) turned into images with `docker import`. Content-keyed cache:
#   * every image carries LABEL swarm-lab.cache-key=<sha256 of its inputs>; when the local image
#     already has that key the image is skipped (warm run = a few seconds, no network);
#   * rootfs tarballs are cached in $LAB_CACHE/rootfs (base-<key>.tar, <image>-<key>.tar), so a
#     deleted image is re-imported without debootstrap/apt; downloaded .debs in $LAB_CACHE/debs.
#
# Usage: test/lab/images/build.sh [--force] [node|nginx|haproxy|demo-app ...]   (default: all)
# Env:   LAB_CACHE (default /var/cache/swarm-lab), LAB_DEBIAN_MIRROR (http://deb.debian.org/debian),
#        LAB_DEBIAN_SECURITY_MIRROR (http://deb.debian.org/debian-security; "" = no security suite),
#        LAB_FORCE_REBUILD=1 (= --force: redo apt for the selected images, e.g. to pick up updates;
#        the base rootfs is refreshed only with LAB_FORCE_BASE=1).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The one demo app of the project (also the dev stack's build context), baked into the lab's offline image.
DEMO_APP="$HERE/../../../templates/demo-app/server.py"
LAB_CACHE=${LAB_CACHE:-/var/cache/swarm-lab}
SUITE=bookworm
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${LAB_DEBIAN_SECURITY_MIRROR-http://deb.debian.org/debian-security}
FORCE=${LAB_FORCE_REBUILD:-0}
FORCE_BASE=${LAB_FORCE_BASE:-0}
FORMAT=1 # bump to invalidate every cache entry

ALL_IMAGES=(node nginx haproxy demo-app)

# ------------------------------------------------------------------------------------------------
# Image definitions: packages, `docker import --change` lines, post-install hook ($1 = rootfs).
# ------------------------------------------------------------------------------------------------
declare -A PKGS CHANGES
ENV_PATH='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

PKGS[node]="docker.io containerd runc tini iptables keepalived curl iproute2 procps ca-certificates bash xz-utils iputils-ping kmod openssh-server"
CHANGES[node]="$ENV_PATH
VOLUME /var/lib/docker
EXPOSE 2376
ENTRYPOINT [\"/usr/bin/tini\", \"--\", \"/usr/local/bin/node-entrypoint\"]
CMD []"
post_node() {
  install -m 0755 "$HERE/node/entrypoint.sh" "$1/usr/local/bin/node-entrypoint"
  mkdir -p "$1/etc/keepalived" "$1/var/lib/docker"
  # no init system: make sure nothing tries to start services at image build or run time
  rm -f "$1/etc/rc"?.d/S*docker "$1/etc/rc"?.d/S*keepalived "$1/etc/rc"?.d/S*containerd
  # libnetwork debug tools shipped by Debian's docker.io, unused (~27 MB)
  rm -f "$1/usr/bin/dnet" "$1/usr/sbin/ovrouter"
  # no shared host key: a node running sshd gets its own (the ssh-driver lab profile generates one per node)
  rm -f "$1"/etc/ssh/ssh_host_*
}

PKGS[nginx]="nginx curl ca-certificates"
CHANGES[nginx]="$ENV_PATH
EXPOSE 80
CMD [\"nginx\", \"-g\", \"daemon off;\"]"
post_nginx() {
  # log to the container's stdout/stderr like the official image
  ln -sf /dev/stdout "$1/var/log/nginx/access.log"
  ln -sf /dev/stderr "$1/var/log/nginx/error.log"
}

PKGS[haproxy]="haproxy curl ca-certificates"
CHANGES[haproxy]="$ENV_PATH
CMD [\"haproxy\", \"-W\", \"-db\", \"-f\", \"/usr/local/etc/haproxy/\"]"
post_haproxy() {
  # empty config dir (the platform COPYs its haproxy.cfg here); Debian's default stays in /etc/haproxy
  mkdir -p "$1/usr/local/etc/haproxy" "$1/run/haproxy" "$1/var/lib/haproxy"
}

PKGS[demo-app]="python3"
CHANGES[demo-app]="$ENV_PATH
ENV RELEASE=dev PORT=8000 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
EXPOSE 8000
WORKDIR /app
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 CMD [\"python3\", \"/app/app.py\", \"--healthcheck\"]
CMD [\"python3\", \"/app/app.py\"]"
post_demo-app() {
  mkdir -p "$1/app"
  install -m 0755 "$DEMO_APP" "$1/app/app.py"
  # trim the python stdlib bits an HTTP server never needs
  rm -rf "$1"/usr/lib/python3.*/{ensurepip,idlelib,lib2to3,pydoc_data,tkinter,turtledemo,unittest/test}
}

# ------------------------------------------------------------------------------------------------
log() { printf '%s build: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

sha() { sha256sum | cut -d' ' -f1; }

# The base rootfs: debootstrap minbase + apt/dpkg config for small images.
make_base() { # $1 = target dir
  local root=$1
  # private mount namespace: whatever debootstrap mounts disappears with it, even on failure
  unshare --mount --propagation private \
    debootstrap --variant=minbase --cache-dir="$LAB_CACHE/debs" "$SUITE" "$root" "$MIRROR" >&2
  rm -f "$root"/var/cache/apt/archives/*.deb
  cat >"$root/etc/dpkg/dpkg.cfg.d/90-swarm-lab-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  cat >"$root/etc/apt/apt.conf.d/90-swarm-lab" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT::Sandbox::User "root";
Dpkg::Options { "--force-confdef"; "--force-confold"; };
EOF
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  {
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    [[ -z "$SECURITY_MIRROR" ]] || echo "deb $SECURITY_MIRROR $SUITE-security main"
  } >"$root/etc/apt/sources.list"
  in_chroot "$root" 'apt-get update -qq && apt-get -y -qq dist-upgrade >/dev/null'
  rm -rf "$root"/usr/share/{doc,man,info}/* "$root"/var/cache/debconf/*-old
}

# Run a shell snippet inside the rootfs with /proc, /dev, resolv.conf and the .deb cache.
in_chroot() { # $1 = root, $2 = script
  local root=$1
  mkdir -p "$LAB_CACHE/debs/apt/partial"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  # shellcheck disable=SC2016 # expanded by the inner bash
  unshare --mount --propagation private bash -euo pipefail -c '
    root=$1
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --bind "$2" "$root/var/cache/apt/archives"
    DEBIAN_FRONTEND=noninteractive LC_ALL=C chroot "$root" /bin/bash -euo pipefail -c "$3"
  ' _ "$root" "$LAB_CACHE/debs/apt" "$2" >&2
}

# refuse to touch a rootfs that still has something mounted inside (would hit the host's /dev, ...)
assert_no_mounts() { # $1 = root
  if awk -v r="$(realpath "$1")/" 'index($5 "/", r) == 1 {found=1} END {exit !found}' /proc/self/mountinfo; then
    die "mounts still active below $1; refusing to continue"
  fi
}

finalize_rootfs() { # $1 = root
  local root=$1
  assert_no_mounts "$root"
  rm -rf "${root:?}"/var/lib/apt/lists/* "${root:?}"/var/cache/apt/*.bin "${root:?}"/var/cache/apt/archives/*.deb "${root:?}"/var/cache/debconf/*-old \
    "${root:?}"/tmp/* "${root:?}"/var/tmp/* "${root:?}"/root/.cache \
    "${root:?}"/usr/share/{man,info}/* "${root:?}"/dev/*
  find "$root/var/log" -type f -delete # keep dirs and symlinks (e.g. nginx logs -> /dev/stdout)
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  : >"$root/etc/resolv.conf"
  : >"$root/etc/machine-id"
  rm -f "$root/etc/hostname" "$root"/etc/ssh/ssh_host_* "$root/var/lib/dbus/machine-id"
}

# tar of a rootfs dir, atomically written to $2
pack() { # $1 = root, $2 = out.tar
  tar --numeric-owner --xattrs --xattrs-include='security.capability' -C "$1" -cf "$2.partial" .
  mv -f "$2.partial" "$2"
}

base_key() {
  { echo "format=$FORMAT suite=$SUITE mirror=$MIRROR security=$SECURITY_MIRROR"
    declare -f make_base in_chroot; } | sha
}

image_key() { # $1 = name
  local name=$1
  { echo "format=$FORMAT base=$(base_key) name=$name"
    echo "pkgs=${PKGS[$name]}"
    echo "changes=${CHANGES[$name]}"
    declare -f "post_$name" finalize_rootfs pack
    if [[ -d "$HERE/$name" ]]; then
      (cd "$HERE/$name" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
    fi
    if [[ $name == demo-app ]]; then sha256sum <"$DEMO_APP"; fi; } | sha
}

ensure_base() { # prints path of the cached base tarball
  local key tarball work
  key=$(base_key)
  tarball="$LAB_CACHE/rootfs/base-${key:0:16}.tar"
  if [[ -f "$tarball" && "$FORCE_BASE" != 1 ]]; then
    echo "$tarball"
    return
  fi
  log "debootstrap $SUITE minbase from $MIRROR (cold path, takes a few minutes)"
  work=$(mktemp -d "$LAB_CACHE/tmp/base.XXXXXX")
  make_base "$work"
  assert_no_mounts "$work"
  pack "$work" "$tarball"
  rm -rf "$work"
  echo "$tarball"
}

build_image() { # $1 = name
  local name=$1 key ref tarball have base work t0=$SECONDS
  key=$(image_key "$name")
  ref="swarm-lab/$name:latest"
  have=$(docker image inspect "$ref" --format '{{index .Config.Labels "swarm-lab.cache-key"}}' 2>/dev/null || true)
  if [[ "$have" == "$key" && "$FORCE" != 1 ]]; then
    log "$ref up to date (cache-key ${key:0:16})"
    return
  fi
  tarball="$LAB_CACHE/rootfs/$name-${key:0:16}.tar"
  if [[ ! -f "$tarball" || "$FORCE" == 1 ]]; then
    base=$(ensure_base)
    log "$name: rootfs from $(basename "$base") + apt-get install ${PKGS[$name]}"
    work=$(mktemp -d "$LAB_CACHE/tmp/$name.XXXXXX")
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$work" -xf "$base"
    # shellcheck disable=SC2086
    in_chroot "$work" "apt-get update -qq && apt-get install -y -qq ${PKGS[$name]} >/dev/null"
    "post_$name" "$work"
    finalize_rootfs "$work"
    assert_no_mounts "$work"
    pack "$work" "$tarball"
    rm -rf "$work"
    # keep only the newest tarball per image
    find "$LAB_CACHE/rootfs" -maxdepth 1 -name "$name-*.tar" ! -path "$tarball" -delete
  fi
  local -a changes=()
  local line old
  while IFS= read -r line; do [[ -n "$line" ]] && changes+=(--change "$line"); done <<<"${CHANGES[$name]}"
  changes+=(--change "LABEL swarm-lab.image=$name swarm-lab.cache-key=$key")
  old=$(docker image inspect "$ref" --format '{{.Id}}' 2>/dev/null || true)
  log "$name: docker import $(basename "$tarball") -> $ref"
  docker import "${changes[@]}" --message "swarm-lab $name ${key:0:16}" "$tarball" "$ref" >/dev/null
  # drop the superseded image if nothing uses it any more
  [[ -z "$old" ]] || docker image rm "$old" >/dev/null 2>&1 || true
  log "$name: done in $((SECONDS - t0))s ($(docker image inspect "$ref" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"
}

main() {
  local -a images=()
  local a
  for a in "$@"; do
    case "$a" in
      --force) FORCE=1 ;;
      -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
      *) [[ -n "${PKGS[$a]:-}" ]] || die "unknown image '$a' (known: ${ALL_IMAGES[*]})"; images+=("$a") ;;
    esac
  done
  ((${#images[@]})) || images=("${ALL_IMAGES[@]}")

  [[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot, mounts)"
  local need
  for need in debootstrap docker unshare flock tar; do
    command -v "$need" >/dev/null || die "$need not found (apt-get install debootstrap docker.io util-linux)"
  done
  bash "$HERE/../dockerd.sh"

  mkdir -p "$LAB_CACHE"/{rootfs,tmp,debs}
  exec 9>"$LAB_CACHE/.lock"
  flock 9 # one build at a time per cache
  rm -rf "${LAB_CACHE:?}"/tmp/* # leftovers of interrupted builds (no mounts survive: private ns)

  local t0=$SECONDS name
  for name in "${images[@]}"; do
    build_image "$name"
  done
  log "all done in $((SECONDS - t0))s: ${images[*]/#/swarm-lab/}"
}

main "$@"
