#!/usr/bin/env bash
# node-bootstrap: prepare an ssh-driven host for the swarm (run as root; idempotent).
#   Installs the Docker engine, keepalived and curl when missing; enables and starts Docker; opens the swarm
#   ports, VRRP and the gateway ports when ufw or firewalld is active. (keepalived-apply creates the script user.)
# env:    GATEWAY_PORTS  space-separated TCP ports to open for the gateway ("" on other nodes)
#         DOCKER_USER    optional: the SSH user, added to the docker group (the docker provider's ssh:// connection
#                        runs `docker system dial-stdio` as that user, without sudo)
# stdout: bootstrap: ok
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

GATEWAY_PORTS="${GATEWAY_PORTS:-}"

log() { echo "bootstrap: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"

os_family() {
    local id="" like=""
    if [[ -r /etc/os-release ]]; then
        # shellcheck disable=SC1091
        id=$(. /etc/os-release && echo "${ID:-}")
        # shellcheck disable=SC1091
        like=$(. /etc/os-release && echo "${ID_LIKE:-}")
    fi
    case " $id $like " in
        *" debian "* | *" ubuntu "*) echo debian ;;
        *" rhel "* | *" fedora "* | *" centos "*) echo rhel ;;
        *) echo "unsupported:${id:-unknown}" ;;
    esac
}

install_packages() {
    local family missing=()
    command -v docker >/dev/null 2>&1 || missing+=(docker)
    command -v keepalived >/dev/null 2>&1 || missing+=(keepalived)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    ((${#missing[@]})) || return 0
    family=$(os_family)
    log "installing ${missing[*]} ($family)"
    case "$family" in
        debian)
            local pkgs=("${missing[@]/#docker/docker.io}")
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
            ;;
        rhel)
            local pkg
            for pkg in "${missing[@]}"; do
                if [[ $pkg == docker ]]; then
                    # docker-ce when Docker's repository is configured, moby-engine on Fedora; plain "docker"
                    # on RHEL is podman-docker, which cannot run a swarm.
                    dnf install -y docker-ce || dnf install -y moby-engine ||
                        die "no Docker engine package found: add https://download.docker.com/linux/rhel/docker-ce.repo and re-run"
                else
                    dnf install -y "$pkg"
                fi
            done
            ;;
        *) die "cannot install ${missing[*]} on this OS (${family#unsupported:}): install them by hand, or use Debian, Ubuntu or a RHEL-like system" ;;
    esac
}

start_docker() {
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        systemctl enable --now docker
    elif command -v service >/dev/null 2>&1; then
        service docker start || true
    fi
    for _ in $(seq 1 30); do
        docker info >/dev/null 2>&1 && return 0
        sleep 1
    done
    die "the Docker engine is not answering after 30 s (docker info fails)"
}

# The readers of a pipe read to the end (no grep -q): under pipefail a reader that stops at its first match can end
# the writer with SIGPIPE, and the match then reads as a failure (a long ufw rule list).
ufw_active() { command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | grep '^Status: active' >/dev/null; }
firewalld_active() { command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; }

# ufw has no rule syntax for VRRP (IP protocol 112): it goes into before.rules, once.
ufw_allow_vrrp() {
    local rules=/etc/ufw/before.rules marker="# swarm-platform: VRRP"
    [[ -f $rules ]] || return 0
    grep -qF "$marker" "$rules" && return 0
    sed -i "0,/^COMMIT/s//-A ufw-before-input -p 112 -j ACCEPT $marker\nCOMMIT/" "$rules"
}

open_firewall() {
    local port
    if ufw_active; then
        log "opening swarm, VRRP and gateway ports in ufw"
        ufw allow 2377/tcp
        ufw allow 7946/tcp
        ufw allow 7946/udp
        ufw allow 4789/udp
        ufw allow proto esp from any to any # encrypted overlays
        for port in $GATEWAY_PORTS; do ufw allow "$port/tcp"; done
        ufw_allow_vrrp
        ufw reload
    elif firewalld_active; then
        log "opening swarm, VRRP and gateway ports in firewalld"
        local args=(--add-port=2377/tcp --add-port=7946/tcp --add-port=7946/udp --add-port=4789/udp
            --add-protocol=vrrp --add-protocol=esp)
        for port in $GATEWAY_PORTS; do args+=("--add-port=$port/tcp"); done
        firewall-cmd --permanent "${args[@]}"
        firewall-cmd --reload
    else
        log "no active ufw or firewalld: no ports opened"
    fi
}


grant_docker() {
    [[ -n ${DOCKER_USER:-} && $DOCKER_USER != root ]] || return 0
    id -nG "$DOCKER_USER" | tr ' ' '\n' | grep -x docker >/dev/null && return 0
    log "adding $DOCKER_USER to the docker group"
    usermod -aG docker "$DOCKER_USER" 2>/dev/null || addgroup "$DOCKER_USER" docker
}

install_packages
start_docker
open_firewall
grant_docker
echo "bootstrap: ok" >&3
