#!/bin/sh
# gateway-agent: the routes step's helper inside a gateway container (gateway-routes-apply.sh). It answers one line per
# request line on stdin, so a step's probes, check and reload cost no round trip each. POSIX sh (the gateway image may
# have no bash). Two ways in, one agent: baked into the image, where the entrypoint serves it on the FIFO pair the
# routes step keeps on the node (no `docker exec`); and sent by the step through `docker exec` to a gateway that does
# not serve it (an image from before it, or a server that does not answer).
# usage:  gateway-agent ENGINE RELOAD_SIGNAL MAIN_CONFIG ROUTES_FILE
# Requests and answers:
#   hello                         ->  hello <this container's hostname: its short id>
#   probe SERVICE PORT PATH HOST  ->  probe <HTTP status, or curl's error on one line>
#   check                         ->  check ok | check failed <the engine's output on one line>
#   reload NEW_WAIT RETIRE_WAIT   ->  reload ok <old workers still finishing> | reload no-worker | reload no-new-worker
#                                     | reload signal-failed
# A reload signals the container's init (the entrypoint turns it into the engine's graceful reload) and has taken
# effect once a worker started after the signal serves (a config the engine refused to load leaves only the old
# ones); then the old workers finish their requests and retire, waited for at most RETIRE_WAIT seconds (a long
# request may keep one up to the engine's stop timeout; it serves the old routes only on its open connections).
# The engine's workers: processes named like the engine whose parent is its master, the init's child of that name
# (not the entrypoint's own subshells, such as its DNS watcher). /proc is read every 20 ms for a second, then every
# 100 ms. GATEWAY_AGENT_INIT is the entrypoint's pid (default 1: the container's init; the entrypoint sets it when it
# serves the agent). GATEWAY_AGENT_PROC and GATEWAY_AGENT_NAME stand in for /proc and the hostname in tests only.
engine=$1 signal=$2 main=$3 routes=$4
proc=${GATEWAY_AGENT_PROC:-/proc} init=${GATEWAY_AGENT_INIT:-1}
workers() {
    masters="" candidates=""
    for status in "$proc"/[0-9]*/status; do
        name="" ppid=""
        { while IFS=' 	:' read -r key value rest; do
            case $key in Name) name=$value ;; PPid) ppid=$value && break ;; esac
        done <"$status"; } 2>/dev/null || continue
        [ "$name" = "$engine" ] || continue
        pid=${status%/status} && pid=${pid##*/}
        if [ "$ppid" = "$init" ]; then masters="$masters $pid "; else candidates="$candidates $pid:$ppid"; fi
    done
    for c in $candidates; do
        case "$masters" in *" ${c#*:} "*) printf ' %s ' "${c%%:*}" ;; esac
    done
}
pause() { if [ "$waited" -lt 100 ]; then sleep 0.02 && waited=$((waited + 2)); else sleep 0.1 && waited=$((waited + 10)); fi; }
one_line() { tr '\n' ' ' | sed 's/ *$//'; }
while read -r request a b c d; do
    case $request in
        hello) echo "hello ${GATEWAY_AGENT_NAME:-$(cat /proc/sys/kernel/hostname 2>/dev/null)}" ;;
        probe) echo "probe $(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 -H "Host: $d" "http://$a:$b$c" 2>&1 | one_line)" ;;
        check)
            rc=0
            if [ "$engine" = nginx ]; then out=$(nginx -t -q 2>&1) || rc=$?; else out=$(haproxy -c -f "$main" -f "$routes" 2>&1) || rc=$?; fi
            if [ "$rc" -eq 0 ]; then echo "check ok"; else echo "check failed $(printf '%s' "$out" | one_line)"; fi
            ;;
        reload)
            before=$(workers) && waited=0
            while [ -z "$before" ] && [ "$waited" -lt 100 ]; do pause && before=$(workers); done
            if [ -z "$before" ]; then echo "reload no-worker" && continue; fi
            if ! kill -s "$signal" "$init" 2>/dev/null; then echo "reload signal-failed" && continue; fi
            waited=0 fresh=0
            while :; do
                for pid in $(workers); do case "$before" in *" $pid "*) ;; *) fresh=1 ;; esac; done
                if [ "$fresh" != 0 ] || [ "$waited" -ge $((a * 100)) ]; then break; fi
                pause
            done
            if [ "$fresh" = 0 ]; then echo "reload no-new-worker" && continue; fi
            waited=0
            while :; do
                old=0
                for pid in $(workers); do case "$before" in *" $pid "*) old=$((old + 1)) ;; esac; done
                if [ "$old" -eq 0 ] || [ "$waited" -ge $((b * 100)) ]; then break; fi
                pause
            done
            echo "reload ok $old"
            ;;
        *) echo "unknown request: $request" ;;
    esac
done
