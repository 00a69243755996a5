// keepalived-apply and keepalived-stop, run for real: real keepalived in a private network, mount and PID
// namespace (the node's /etc/keepalived, /run and passwd are private copies), with a stand-in gateway health
// endpoint (a one-line node HTTP server on the health socket). One driver session runs the whole life cycle; each test checks one behaviour of it.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { renderKeepalivedConf, renderKeepalivedScripts } from "../../model/virtual-ip";
import { nodeScriptBody, renderNodeScript } from "../../model/scripts";
import { createNetns, deleteNetns, hasTool, needNetns, needTools, removeDir, run, stackPlan, tempDir, writeFile, virtualIpOf } from "./helpers";

const TOOLS = ["keepalived", "curl", "bash"];
const plan = stackPlan("dev");
const NODE = "gw-1";
const vrrp = plan.virtualIp;
assert.ok(vrrp);
const group = vrrp.groups[0];
const member = group.members.find((m) => m.node === NODE);
assert.ok(member);
const VIP = `${group.address}/${vrrp.prefix}`;

/** The whole life cycle, inside the namespaces; every step leaves <step>.out/.err/.rc and observations in $W. */
const DRIVER = String.raw`
set -u
W=$1
NODE_BIN=$2
mount -t tmpfs tmpfs /run
mount --bind "$W/etc-keepalived" /etc/keepalived
mount --bind "$W/passwd" /etc/passwd
mount --bind "$W/group" /etc/group
mkdir -p "$W/tmpfiles.d" /etc/tmpfiles.d && mount --bind "$W/tmpfiles.d" /etc/tmpfiles.d
step() { bash -s <"$W/$2" >"$W/$1.out" 2>"$W/$1.err"; echo $? >"$W/$1.rc"; }
wait_for() { local i; for i in $(seq 1 150); do if eval "$1"; then return 0; fi; sleep 0.1; done; return 1; }
has_vip() { ip -4 addr show dev ${vrrp.interface} | grep -q "inet ${VIP} "; }
state_is() { [ "$(cat /run/keepalived/${group.name}.state 2>/dev/null)" = "$1" ]; }
observe() { if eval "$2"; then echo yes >"$W/$1.obs"; else echo no >"$W/$1.obs"; fi; }

# The gateway's state dir, private to this run; the stand-in gateway answers on its health socket (mode 666, like the engines').
mkdir -p ${plan.gateway.stateDir} && mount -t tmpfs -o mode=755 tmpfs ${plan.gateway.stateDir}
"$NODE_BIN" -e 'const p = process.argv[1]; require("node:http").createServer((q, s) => s.end("ok\n")).listen(p, () => require("node:fs").chmodSync(p, 0o666))' ${vrrp.healthCheck.socket} >/dev/null 2>&1 &
web=$!
wait_for "curl -fsS -o /dev/null --unix-socket ${vrrp.healthCheck.socket} ${vrrp.healthCheck.url}"

step start apply.sh
observe master-after-start 'wait_for "state_is MASTER && has_vip"'
stat -c %a /etc/keepalived/keepalived.conf >"$W/conf-mode"
environs() { local p; for p in $(pgrep -x keepalived); do tr '\0' '\n' <"/proc/$p/environ"; echo "--- pid $p"; done; }
environs >"$W/environ-after-start"
# every descriptor the keepalived processes hold (none may be the apply step's stdout/stderr: over ssh it would hang the step)
for p in $(pgrep -x keepalived); do ls -l "/proc/$p/fd"; echo "--- pid $p"; done >"$W/fds-after-start" 2>&1
cat /run/keepalived.pid >"$W/pid-before" 2>/dev/null
step again apply.sh
step bad apply-bad.sh
cp /etc/keepalived/keepalived.conf "$W/conf-after-bad"
step changed apply-changed.sh
cat /run/keepalived.pid >"$W/pid-after" 2>/dev/null
observe alive-after-reload 'kill -0 "$(cat /run/keepalived.pid)"'
# After the reload (keepalived restarts its FIFO reader), transitions are still recorded.
touch ${plan.gateway.stateDir}/draining
observe fault-after-reload 'wait_for "state_is FAULT && ! has_vip"'
rm -f ${plan.gateway.stateDir}/draining
observe master-after-reload 'wait_for "state_is MASTER && has_vip"'

step probe apply-probe.sh
observe check-env-written 'wait_for "[ -s /run/keepalived/check.env ]"'
cp /run/keepalived/check.env "$W/check-env" 2>/dev/null

mkdir -p ${plan.gateway.stateDir} && touch ${plan.gateway.stateDir}/draining
observe fault-when-draining 'wait_for "state_is FAULT && ! has_vip"'
rm -f ${plan.gateway.stateDir}/draining
observe master-after-drain 'wait_for "state_is MASTER && has_vip"'

step stop stop.sh
observe vip-gone-after-stop '! has_vip'
observe no-keepalived-after-stop '! pgrep -x keepalived >/dev/null'
step stop-again stop.sh

# keepalived killed without its cleanup (docker kill of a node) leaves its VRRP child's pid file beside its own; by the
# next start that PID can be a live process (here the stand-in gateway): the start must not take it for keepalived.
echo "$web" >/run/vrrp.pid
step stale-pid apply.sh
observe master-despite-stale-pid 'wait_for "state_is MASTER && has_vip"'
step stop-stale stop.sh
observe stop-recorded 'wait_for "state_is STOP"'

# Transitions faster than their recording: the reader is slowed on MASTER lines (a loaded node), and the gateway starts
# draining as soon as the instance is MASTER. The last state recorded must be the last one keepalived reached (FAULT).
step slow apply-slow.sh
observe slow-master-seen 'wait_for "grep -q MASTER /run/keepalived/lines"'
touch ${plan.gateway.stateDir}/draining
observe slow-fault 'wait_for "! has_vip && grep -q FAULT /run/keepalived/lines"'
sleep 4.5 # the slowed MASTER line's record (a per-transition notify script would write MASTER now)
cat /run/keepalived/${group.name}.state >"$W/slow-state" 2>/dev/null
cp /run/keepalived/lines "$W/slow-lines" 2>/dev/null
rm -f ${plan.gateway.stateDir}/draining
step stop-slow stop.sh

# A keepalived started the old way, with the apply script's variables in its environment, is restarted without them.
# Set up only once the stopped one has exited (on a loaded machine it may still be going, its pid file with it) and
# the pid file names the new one: otherwise the apply finds the old process and the test checks nothing.
wait_for '! pgrep -x keepalived >/dev/null && [ ! -e /run/keepalived.pid ]'
KEEPALIVED_CONF="$(cat "$W/conf-original")" keepalived -D -p /run/keepalived.pid -f /etc/keepalived/keepalived.conf
wait_for 'p=$(cat /run/keepalived.pid 2>/dev/null) && [ -n "$p" ] && tr "\0" "\n" <"/proc/$p/environ" 2>/dev/null | grep -q "^KEEPALIVED_CONF="'
cat /run/keepalived.pid >"$W/pid-legacy"
step legacy apply-probe.sh
cat /run/keepalived.pid >"$W/pid-after-legacy"
environs >"$W/environ-after-legacy"
step stop-last stop.sh
kill "$web"
`;

describe("keepalived-apply and keepalived-stop on a (namespaced) node", () => {
    let netns: string | undefined;
    let work: string | undefined;
    const read = (name: string) => fs.readFileSync(path.join(work as string, name), "utf8");
    const step = (name: string) => ({ rc: Number(read(`${name}.rc`)), out: read(`${name}.out`), err: read(`${name}.err`) });

    before(() => {
        if (!TOOLS.every(hasTool) || process.getuid?.() !== 0) return;
        work = tempDir("keepalived-apply");
        fs.chmodSync(work, 0o755);
        const w = work;
        fs.mkdirSync(path.join(w, "etc-keepalived"), { mode: 0o755 });
        writeFile(path.join(w, "passwd"), `${fs.readFileSync("/etc/passwd", "utf8")}${vrrp.scriptUser}:x:64990:64990::/nonexistent:/usr/sbin/nologin\n`);
        writeFile(path.join(w, "group"), `${fs.readFileSync("/etc/group", "utf8")}${vrrp.scriptUser}:x:64990:\n`);
        const scripts = renderKeepalivedScripts(virtualIpOf(plan));
        const conf = renderKeepalivedConf(virtualIpOf(plan), NODE, { authPass: "t3st-pw" });
        const apply = (c: string) =>
            renderNodeScript("keepalived-apply", { node: NODE, env: { KEEPALIVED_CONF: c, CHECK_SCRIPT: scripts.check, NOTIFY_SCRIPT: scripts.notify, SCRIPT_USER: vrrp.scriptUser } });
        writeFile(path.join(w, "conf-original"), conf);
        writeFile(path.join(w, "apply.sh"), apply(conf));
        writeFile(path.join(w, "apply-bad.sh"), apply(conf.replace(`interface ${vrrp.interface}\n`, "interface swrmissing0\n")));
        const changed = conf.replace(`priority ${member.priority}\n`, `priority ${member.priority - 5}\n`);
        writeFile(path.join(w, "apply-changed.sh"), apply(changed));
        // The same check, after writing the environment it runs with where the test can read it.
        const probeCheck = scripts.check.replace(/^(#!.*\n)/, "$1env >/run/keepalived/check.env\n");
        assert.notEqual(probeCheck, scripts.check);
        writeFile(
            path.join(w, "apply-probe.sh"),
            renderNodeScript("keepalived-apply", { node: NODE, env: { KEEPALIVED_CONF: changed, CHECK_SCRIPT: probeCheck, NOTIFY_SCRIPT: scripts.notify, SCRIPT_USER: vrrp.scriptUser } }),
        );
        // The same reader, logging each line it reads and then taking 4 s over a MASTER line before recording it.
        const slowNotify = scripts.notify.replace(/^( {4}\[ "\$kind" = INSTANCE \] \|\| continue\n)/m, '$1    echo "$state" >>/run/keepalived/lines\n    [ "$state" != MASTER ] || sleep 4\n');
        assert.notEqual(slowNotify, scripts.notify);
        writeFile(
            path.join(w, "apply-slow.sh"),
            renderNodeScript("keepalived-apply", { node: NODE, env: { KEEPALIVED_CONF: conf, CHECK_SCRIPT: scripts.check, NOTIFY_SCRIPT: slowNotify, SCRIPT_USER: vrrp.scriptUser } }),
        );
        writeFile(path.join(w, "stop.sh"), renderNodeScript("keepalived-stop", { node: NODE }));
        netns = createNetns([vrrp.interface]);
        run("ip", ["-n", netns, "addr", "add", `${member.address}/${vrrp.prefix}`, "dev", vrrp.interface]);
        const r = run(
            "ip",
            ["netns", "exec", netns, "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc", "bash", "-c", DRIVER, "_", w, process.execPath],
            { timeout: 120_000 },
        );
        assert.equal(r.status, 0, `driver failed: ${r.stderr}`);
    });
    after(() => {
        deleteNetns(netns);
        removeDir(work);
    });

    const ready = (t: Parameters<typeof needTools>[0]) => needTools(t, ...TOOLS) && needNetns(t, "keepalived runs and moves the VIP in a network namespace") && work !== undefined;

    test("the first apply installs the files with safe modes and starts keepalived, which takes the VIP", (t) => {
        if (!ready(t)) return;
        assert.deepEqual(step("start"), { rc: 0, out: "keepalived: started\n", err: step("start").err });
        assert.equal(read("master-after-start.obs").trim(), "yes", "MASTER with the VIP after the start");
    });

    test("the state directory comes back after a reboot: a tmpfiles.d entry owned by the script user", (t) => {
        if (!ready(t)) return;
        assert.equal(read("tmpfiles.d/swarm-platform-keepalived.conf"), `d /run/keepalived 0755 ${vrrp.scriptUser} - -\n`);
        assert.equal(fs.statSync(path.join(work as string, "tmpfiles.d/swarm-platform-keepalived.conf")).mode & 0o777, 0o644);
    });

    test("keepalived holds none of the apply step's descriptors (stdout, stderr, the result's fd 3): an ssh session ends with the script", (t) => {
        if (!ready(t)) return;
        const fds = read("fds-after-start");
        assert.ok((fds.match(/^--- pid \d+$/gm) ?? []).length >= 2, `the parent and its VRRP child were both read: ${fds}`);
        assert.match(fds, /-> \/dev\/null/, "their standard descriptors are /dev/null");
        assert.doesNotMatch(fds, /start\.(out|err)/, fds);
    });

    test("applying the same files again changes nothing", (t) => {
        if (!ready(t)) return;
        const s = step("again");
        assert.equal(s.rc, 0, s.err);
        assert.equal(s.out, "keepalived: unchanged\n");
    });

    test("a config keepalived -t rejects fails with keepalived's output and leaves the installed config alone", (t) => {
        if (!ready(t)) return;
        const s = step("bad");
        assert.equal(s.rc, 1);
        assert.equal(s.out, "");
        assert.match(s.err, /swrmissing0/);
        assert.match(s.err, /keepalived -t rejected the new config/);
        assert.equal(read("conf-after-bad"), read("conf-original"));
    });

    test("a changed config is installed and reloaded in place (same keepalived process)", (t) => {
        if (!ready(t)) return;
        const s = step("changed");
        assert.equal(s.rc, 0, s.err);
        assert.equal(s.out, "keepalived: reloaded\n");
        assert.equal(read("pid-after"), read("pid-before"));
        assert.equal(read("alive-after-reload.obs").trim(), "yes");
    });

    test("the gateway's draining flag puts the instance in FAULT and the VIP leaves; removing it brings both back", (t) => {
        if (!ready(t)) return;
        assert.equal(read("fault-when-draining.obs").trim(), "yes");
        assert.equal(read("master-after-drain.obs").trim(), "yes");
    });

    test("a reload keeps the states recorded: the restarted FIFO reader records FAULT and MASTER again", (t) => {
        if (!ready(t)) return;
        assert.equal(read("fault-after-reload.obs").trim(), "yes");
        assert.equal(read("master-after-reload.obs").trim(), "yes");
    });

    test("transitions are recorded in keepalived's order: a MASTER recorded late does not overwrite the FAULT after it", (t) => {
        if (!ready(t)) return;
        assert.equal(read("slow-master-seen.obs").trim(), "yes", "the slowed reader got the MASTER line");
        assert.equal(read("slow-fault.obs").trim(), "yes", "the instance went FAULT while the MASTER line was being recorded");
        assert.deepEqual(read("slow-lines").trim().split("\n").slice(-2), ["MASTER", "FAULT"]);
        assert.equal(read("slow-state"), "FAULT\n");
        assert.equal(step("stop-slow").out, "keepalived: stopped\n");
    });

    test("a stop is recorded: keepalived's last lines (STOP) reach the reader after its SIGTERM", (t) => {
        if (!ready(t)) return;
        assert.equal(read("stop-recorded.obs").trim(), "yes");
    });

    test("keepalived.conf (it holds the VRRP password) is installed mode 0600, written under umask 077", (t) => {
        if (!ready(t)) return;
        assert.equal(read("conf-mode").trim(), "600");
        const body = nodeScriptBody("keepalived-apply");
        const umask = body.search(/^umask 077$/m);
        assert.ok(umask > 0, "umask 077 at the top level");
        assert.ok(umask < body.search(/^stage_files$/m) && umask < body.search(/^stage=\$\(mktemp/m), "before anything is written");
    });

    test("keepalived and its check script run without the apply script's variables: no password in their environment", (t) => {
        if (!ready(t)) return;
        const probe = step("probe");
        assert.equal(probe.rc, 0, probe.err);
        assert.equal(read("check-env-written.obs").trim(), "yes", "the check script ran and wrote its environment");
        for (const file of ["environ-after-start", "check-env"]) {
            const env = read(file);
            assert.ok(env.includes("PATH="), `${file} was read`);
            for (const secret of ["t3st-pw", "KEEPALIVED_CONF", "CHECK_SCRIPT", "NOTIFY_SCRIPT", "SCRIPT_USER", "auth_pass"]) {
                assert.ok(!env.includes(secret), `${file} holds ${secret}`);
            }
        }
        assert.ok((read("environ-after-start").match(/^--- pid \d+$/gm) ?? []).length >= 2, "the parent and its VRRP child were both read");
    });

    test("a start after a killed keepalived: a stale VRRP child pid file naming a live process does not stop it", (t) => {
        if (!ready(t)) return;
        const s = step("stale-pid");
        assert.equal(s.rc, 0, s.err);
        assert.equal(s.out, "keepalived: started\n");
        assert.equal(read("master-despite-stale-pid.obs").trim(), "yes", "MASTER with the VIP");
        assert.equal(step("stop-stale").out, "keepalived: stopped\n");
    });

    test("a keepalived started with the variables in its environment (an older apply) is restarted without them", (t) => {
        if (!ready(t)) return;
        const s = step("legacy");
        assert.equal(s.rc, 0, s.err);
        assert.equal(s.out, "keepalived: restarted\n");
        assert.notEqual(read("pid-after-legacy"), read("pid-legacy"));
        assert.ok(!read("environ-after-legacy").includes("KEEPALIVED_CONF"));
        assert.ok(!read("environ-after-legacy").includes("t3st-pw"));
        assert.equal(step("stop-last").out, "keepalived: stopped\n");
    });

    test("keepalived-stop stops keepalived gracefully (the VIP is released) and is fine when it is not running", (t) => {
        if (!ready(t)) return;
        const s = step("stop");
        assert.equal(s.rc, 0, s.err);
        assert.equal(s.out, "keepalived: stopped\n");
        assert.equal(read("vip-gone-after-stop.obs").trim(), "yes");
        assert.equal(read("no-keepalived-after-stop.obs").trim(), "yes");
        assert.deepEqual({ ...step("stop-again"), err: "" }, { rc: 0, out: "keepalived: not-running\n", err: "" });
    });
});

describe("keepalived-apply: a keepalived holding the apply step's variables is found (under pipefail, as the step runs)", () => {
    test("found in a large environment, every time (a reader stopping at the first match ended tr with SIGPIPE: none found)", (t) => {
        const body = nodeScriptBody("keepalived-apply");
        const fn = /^inherited_variables\(\) \{\n[\s\S]*?^\}$/m.exec(body)?.[0];
        assert.ok(fn, "inherited_variables in keepalived-apply.sh");
        const dir = tempDir("inherited-variables");
        t.after(() => removeDir(dir));
        // The variable first, then more than a pipe holds (/proc hands the environment out a page at a time).
        const script = writeFile(
            path.join(dir, "check.sh"),
            `set -Eeuo pipefail
${fn}
env -i KEEPALIVED_CONF=x PAD="$(head -c 120000 /dev/zero | tr '\\0' x)" sleep 60 >/dev/null 2>&1 &
held=$!
env -i PATH="$PATH" sleep 60 >/dev/null 2>&1 &
clean=$!
trap 'kill "$held" "$clean"' EXIT
# each one's environment is its own once it runs sleep (before, it is this shell's)
until [ "$(cat "/proc/$held/comm")" = sleep ] && [ "$(cat "/proc/$clean/comm")" = sleep ]; do sleep 0.01; done
found=0 missed=0
for _ in $(seq 40); do
    if inherited_variables "$held"; then found=$((found + 1)); fi
    if inherited_variables "$clean"; then missed=$((missed + 1)); fi
done
echo "$found $missed"
`,
        );
        const r = run("bash", [script]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), "40 0", "found in the one holding them, 40 of 40; in the clean one, 0 of 40");
    });
});
