#!/usr/bin/env bash
# image-deliver: puts one image (IMAGE, a tag on the local engine) into one node's engine, shipping its bytes at most
#   once per node. Runs on the machine running Pulumi (not on a node); needs docker and flock there.
#   1. The tag is resolved to its image ID on the local engine. Two releases of the same image (two tags, one ID)
#      ship it once: the second finds the ID on the node and only adds its tag.
#   2. One load per node at a time (a lock per node): a node's steps queue instead of competing for its engine,
#      and each looks again for the ID once it holds the lock.
#   3. A node that already holds the ID gets only the tag (a re-run, a second tag, an image it had before).
#   4. Otherwise the image is saved ONCE per ID into CACHE_DIR (a lock per ID: the first step saves, every other
#      node's step waits and reads the same file) and loaded from that file, then tagged.
#   One command on the node for 3 (check, then tag) and one for 4 (load, check, tag): a `docker exec` or an ssh
#   session each, not one per docker call.
#   Driver docker with INBOX: the saved file is hard-linked into the node's own inbox, a directory bind-mounted
#   read-only into its container, and the node's engine loads it from there; the bytes do not go through the local
#   engine's `docker exec` stream (a 125 MB load measured 2.5–2.9 busy core-seconds that way, 3.3–4.0 streamed). The
#   link goes once the load ends. A node that does not see the file (a container made before its inbox, or a local
#   engine on another machine) is streamed the bytes as before.
#   Cache files unused for CACHE_KEEP_MINUTES (default a day) are removed.
#   SAVE_ONLY=true does step 4's save alone, for no node: the image's save step runs it as soon as the image is built,
#   while the nodes still start, so no load waits for the save (a load still saves when the file is gone).
# env:    IMAGE          the reference the services use (repository:tag)
#         CACHE_DIR      where saved images and lock files live (the program's build dir, on the Pulumi machine)
#         NODE_KEY       names this node's lock (the node's container or host)
#         CONTAINER      driver docker: the node's container on the local engine
#         SSH_ARGS       driver ssh: ssh's arguments up to the host (pinned host key first), one per line
#         REMOTE_DOCKER  driver ssh: the docker command on the node (`docker` or `sudo -n docker`)
#         INBOX          driver docker, optional: this node's inbox on the machine running Pulumi (only this node
#                        mounts it)
#         INBOX_MOUNT    with INBOX: where the node's container mounts it
#         CACHE_KEEP_MINUTES  optional: minutes an unused cache file is kept
#         SAVE_ONLY      optional: true = save the image into CACHE_DIR only (no node: NODE_KEY and the node's access unused)
# stdout: image-deliver: loaded|present <image id> <IMAGE>, or with SAVE_ONLY: image-deliver: saved <image id> <IMAGE>
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr
exec 4>&2       # notes that a caller's `2>/dev/null` must not hide

: "${IMAGE:?IMAGE is required}"
: "${CACHE_DIR:?CACHE_DIR is required}"

die() { echo "image-deliver ($NODE_NAME): ERROR: $*" >&2; exit 1; }

command -v flock >/dev/null 2>&1 || die "flock is not installed on the machine running Pulumi (Debian: util-linux)"
id=$(docker image inspect --format '{{.Id}}' "$IMAGE") || die "$IMAGE is not on the local engine (build or pull it first)"
[[ $id =~ ^sha256:[0-9a-f]{64}$ ]] || die "unexpected image id '$id' for $IMAGE"
hex=${id#sha256:}
archive="$CACHE_DIR/$hex.tar"
mkdir -p "$CACHE_DIR/locks"

# The image saved once per ID into the cache (a lock per ID: the first step saves, every other one waits for it).
save_once() {
    (
        flock 9
        if [[ ! -s $archive ]]; then
            echo "image-deliver: saving $IMAGE ($id) once for every node" >&2
            docker save "$id" -o "$archive.part.$$"
            mv -f "$archive.part.$$" "$archive"
        fi
        touch "$archive" # in use: kept by the clean-up below
    ) 9>"$CACHE_DIR/locks/image-$hex.lock"
}

if [[ ${SAVE_ONLY:-false} == true ]]; then
    save_once
    echo "image-deliver: saved $id $IMAGE" >&3
    exit 0
fi

: "${NODE_KEY:?NODE_KEY is required}"
[[ $NODE_KEY =~ ^[A-Za-z0-9._@:-]+$ ]] || die "NODE_KEY '$NODE_KEY' is not a plain name"

# On the node, `sh -c` with the docker command (one word or `sudo -n docker`) as $1, then $2…: the image ID and tag.
# Exit 3: the node does not hold the image (after a load: it still does not).
# shellcheck disable=SC2016 # expanded by the node's sh, not here
TAG_IF_PRESENT='d=$1; $d image inspect "$2" >/dev/null 2>&1 || exit 3; $d tag "$2" "$3"'
# shellcheck disable=SC2016
LOAD_AND_TAG='d=$1; $d load -q >&2 || exit; $d image inspect "$2" >/dev/null 2>&1 || exit 3; $d tag "$2" "$3"'
# The same from a file the node sees at $4. Exit 4: it does not see it.
# shellcheck disable=SC2016
LOAD_FILE_AND_TAG='d=$1; [ -r "$4" ] || exit 4; $d load -q -i "$4" >&2 || exit; $d image inspect "$2" >/dev/null 2>&1 || exit 3; $d tag "$2" "$3"'

# on_node [--input FILE] SCRIPT [ARG]: SCRIPT run by sh on the node with the docker command, the ID, IMAGE and ARG as
# its arguments; FILE on its stdin (read anew by each try).
if [[ -n ${CONTAINER:-} ]]; then
    on_node() {
        local input=/dev/null
        if [[ $1 == --input ]]; then input=$2; shift 2; fi
        docker exec -i "$CONTAINER" sh -c "$1" sh docker "$id" "$IMAGE" "${@:2}" <"$input"
    }
elif [[ -n ${SSH_ARGS:-} ]]; then
    mapfile -t ssh_args <<<"$SSH_ARGS"
    # ssh's own failure to get in (exit 255 with one of these) is tried again 1, 2 and 4 s later, as the command
    # provider dials again: the node's sshd refuses new connections at random while 10 or more are unauthenticated
    # (MaxStartups 10:30:100 by default), and a node's first up brings it bursts of sessions; a busy sshd may also
    # accept and send no banner within ConnectTimeout. A connect timeout is not tried again (a node that does not
    # answer would cost minutes), nor a refused host key or login.
    dropped='kex_exchange_identification|Connection reset by|Connection closed by|Connection refused|timed out during banner exchange'
    on_node() {
        local input=/dev/null err rc try
        if [[ $1 == --input ]]; then input=$2; shift 2; fi
        err=$(mktemp)
        for try in 1 2 3 4; do
            rc=0
            # ssh joins its remote words with blanks: each word is quoted for the node's shell.
            # shellcheck disable=SC2029 # quoted here on purpose: the node's shell gets exactly these words
            ssh "${ssh_args[@]}" "$(printf '%q ' sh -c "$1" sh "${REMOTE_DOCKER:-docker}" "$id" "$IMAGE" "${@:2}")" <"$input" 2>"$err" || rc=$?
            if ((rc == 255 && try < 4)) && grep -Eq "$dropped" "$err"; then
                echo "image-deliver ($NODE_NAME): ssh did not get in ($(grep -Em 1 "$dropped" "$err" | tr -d '\r')), trying again" >&4
                sleep $((1 << (try - 1)))
                continue
            fi
            break
        done
        cat "$err" >&2
        rm -f "$err"
        return "$rc"
    }
else
    die "neither CONTAINER (driver docker) nor SSH_ARGS (driver ssh) is set"
fi

# The node's engine loads the saved file through the node's inbox: 0 loaded, 4 not this way (no inbox, no hard link,
# or the node does not see the file), else the load's failure. The link is removed whatever happened.
load_through_inbox() {
    [[ -n ${CONTAINER:-} && -n ${INBOX:-} && -n ${INBOX_MOUNT:-} ]] || return 4
    mkdir -p "$INBOX" && ln -f "$archive" "$INBOX/$hex.tar" 2>/dev/null || return 4
    local rc=0
    on_node "$LOAD_FILE_AND_TAG" "$INBOX_MOUNT/$hex.tar" || rc=$?
    rm -f "$INBOX/$hex.tar"
    return "$rc"
}

exec 8>"$CACHE_DIR/locks/node-$NODE_KEY.lock"
flock 8
# links a killed run left (this node's lock is held: no load of its own is running)
[[ -z ${INBOX:-} || ! -d $INBOX ]] || find "$INBOX" -maxdepth 1 -name '*.tar' -delete 2>/dev/null || true
rc=0
on_node "$TAG_IF_PRESENT" || rc=$?
if ((rc == 0)); then
    state=present
elif ((rc == 3)); then
    save_once
    echo "image-deliver: loading $IMAGE ($id) into $NODE_NAME" >&2
    rc=0
    load_through_inbox || rc=$?
    if ((rc == 4)); then
        [[ -z ${INBOX:-} ]] || echo "image-deliver ($NODE_NAME): the node does not see its inbox; streaming the image" >&4
        rc=0
        on_node --input "$archive" "$LOAD_AND_TAG" || rc=$?
    fi
    ((rc != 3)) || die "the node does not hold $id after loading it"
    ((rc == 0)) || die "loading $IMAGE into the node failed (exit $rc)"
    state=loaded
else
    die "could not ask the node's engine for $id (exit $rc)"
fi
flock -u 8

find "$CACHE_DIR" -maxdepth 1 \( -name '*.tar' -o -name '*.tar.part.*' \) -mmin "+${CACHE_KEEP_MINUTES:-1440}" -delete 2>/dev/null || true
echo "image-deliver: $state $id $IMAGE" >&3
