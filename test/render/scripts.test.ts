// Node scripts and rendered shell scripts: syntax (bash -n / sh -n), shellcheck -S warning, and the envelope's
// promises checked with real bash (byte-exact env values, error line numbers, stdin cannot eat the script).
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { NODE_SCRIPTS, type NodeScript, nodeScriptBody, nodeScriptFile, nodeScriptLibFiles, renderEnvelope, renderNodeScript } from "../../model/scripts";
import { renderGatewayFiles } from "../../model/gateway";
import { renderKeepalivedScripts } from "../../model/virtual-ip";
import { assertRunOk, needTools, removeDir, run, tempDir, variants, virtualIpOf } from "./helpers";

const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

/** Env values that break naive quoting. */
const NASTY: Readonly<Record<string, string>> = {
    QUOTES: `it's "quoted" and \`back-ticked\``,
    SPACES: "  leading, inner   and trailing  ",
    NEWLINES: "line 1\nline 2\n\n",
    SUBSTITUTION: "$(touch /tmp/swarm-render-pwned) ${HOME} $HOME",
    BACKSLASHES: "a\\b\\\\c\\n",
    UNICODE: "zażółć gęślą jaźń ✓",
    DASHES: "-n -e --",
    EMPTY: "",
    PERCENT: "%s %d %%",
};

/** Plausible env per script, so the rendered payloads look like the real ones. */
const SAMPLE_ENV: Readonly<Record<NodeScript, Readonly<Record<string, string>>>> = {
    "node-bootstrap": { GATEWAY_PORTS: "80 443", DOCKER_USER: "deploy" },
    "node-ready": { DOCKER_WAIT_SECONDS: "90" },
    "engine-tls": { SERVER_NAMES: "127.0.0.1 172.28.40.11 manager-1", VALIDITY_DAYS: "365" },
    "image-deliver": { IMAGE: "swarm-lab/demo-app:latest", CACHE_DIR: "/srv/platform/.build/dev/images", NODE_KEY: "swarm-platform-dev-gw-1", CONTAINER: "swarm-platform-dev-gw-1" },
    "node-firewall": {
        FIREWALL_ENABLED: "true",
        RULES: "*filter\n:SWARM-PLATFORM-INPUT - [0:0]\n-A SWARM-PLATFORM-INPUT -j DROP\nCOMMIT\n",
        APPLY: "#!/bin/sh\n",
        UNIT: "[Unit]\n",
        RULES_PATH: "/etc/swarm-platform/firewall.rules",
        APPLY_PATH: "/usr/local/sbin/swarm-platform-firewall",
        UNIT_PATH: "/etc/systemd/system/swarm-platform-firewall.service",
    },
    "swarm-init": { ADVERTISE_ADDR: "10.0.10.11", DATA_PATH_PORT: "4789", DEFAULT_ADDR_POOL: "10.128.0.0/14", DEFAULT_ADDR_POOL_MASK_LENGTH: "24", AUTOLOCK: "true" },
    "swarm-join-token": { ROLE: "worker", MEMBER_NAME: "gw-1", MEMBER_AT: "deploy@10.0.10.21:22" },
    "swarm-join": { JOIN_TOKEN: "SWMTKN-1-abc-def", MANAGER_ADDR: "10.0.10.11:2377", ADVERTISE_ADDR: "10.0.10.21" },
    "swarm-rotate-tokens": { JOINED: "abc123\ndef456" },
    "swarm-leave": {},
    "node-membership": { NODE_ID: "abc123", MEMBER_NAME: "gw-1", ROLE: "worker", AVAILABILITY: "active", LABELS: "gateway=true\nzone=dmz" },
    "node-remove": { NODE_ID: "abc123", MEMBER_NAME: "gw-1" },
    "swarm-departures": { MEMBER_ADDRS: "10.0.10.11\n10.0.10.21" },
    "node-settle": { NODE_ID: "abc123", MEMBER_NAME: "gw-1", SETTLE_SECONDS: "3" },
    "swarm-managers": {},
    "ingress-remove": { SUBNET: "10.127.0.0/24" },
    "keepalived-apply": { KEEPALIVED_CONF: "global_defs {\n}\n", CHECK_SCRIPT: "#!/bin/sh\nexit 0\n", NOTIFY_SCRIPT: "#!/bin/sh\n", SCRIPT_USER: "keepalived_script" },
    "keepalived-stop": {},
    "gateway-routes-apply": {
        ROUTES_DIR: "/etc/swarm-gateway",
        ROUTES_FILE: "routes.conf",
        ROUTES: "server {}\n",
        ENGINE: "nginx",
        MAIN_CONFIG: "/etc/nginx/nginx.conf",
        RELOAD_SIGNAL: "HUP",
        SERVICE: "gateway",
        STATE_DIR: "/var/lib/swarm-gateway",
        SERVED: "sklep.pl shop-2-0 8000 /healthz shop/2.0\n",
        SERVED_FILE: "routes.served",
        PROBE_SECONDS: "10",
        GATEWAY_AGENT: "#!/bin/sh\nwhile read -r request rest; do echo \"$request\"; done\n",
        AGENT_FIFO: "/etc/swarm-gateway/agent",
    },
    "release-converge": {
        SERVICE: "shop-2-0",
        SERVICE_ID: "k2x9mz3q1v7w8e5r4t6y0u2i3",
        SUBJECT: "release shop 2.0",
        SPEC_LABEL: "swarm-platform.spec",
        SPEC_HASH: "0123456789abcdef",
        TIMEOUT: "125",
    },
    "gateway-node-status": {
        KEEPALIVED_STATE_DIR: "/run/keepalived",
        GATEWAY_STATE_DIR: "/var/lib/swarm-gateway",
        GATEWAY_SERVICE: "gateway",
        HEALTH_SOCKET: "/var/lib/swarm-gateway/health.sock",
        HEALTH_URL: "http://localhost/healthz",
    },
    "gateway-metrics-read": { GATEWAY_SERVICE: "gateway", METRICS_PORT: "9145" },
};

function sampleEnv(name: NodeScript): Record<string, string> {
    return { ...SAMPLE_ENV[name] };
}

function checkShell(text: string, label: string, shell: "bash" | "sh"): void {
    assertRunOk(run(shell, ["-n"], { input: text }), `${shell} -n ${label}`);
    assertRunOk(run("shellcheck", ["-S", "warning", "-"], { input: text }), `shellcheck ${label}`);
}

describe("node scripts pass bash -n and shellcheck -S warning", () => {
    test("every script under templates/<concept>/ is a known node script, a library of one, the node image's entrypoint or the gateway's agent", () => {
        const templates = path.join(__dirname, "..", "..", "templates");
        const shells = fs
            .readdirSync(templates, { recursive: true, encoding: "utf8" })
            .filter((f) => f.endsWith(".sh"))
            .sort();
        const known = new Set([...NODE_SCRIPTS.map(nodeScriptFile), ...NODE_SCRIPTS.flatMap(nodeScriptLibFiles), "nodes/entrypoint.sh", "gateway/gateway-agent.sh"]);
        assert.deepEqual(shells, [...known].sort());
        for (const name of NODE_SCRIPTS) assert.equal(path.basename(nodeScriptFile(name)), `${name}.sh`, "a script's file is named after it");
    });

    for (const name of NODE_SCRIPTS) {
        test(`${name}: the script body`, (t) => {
            if (!needTools(t, "bash", "shellcheck")) return;
            checkShell(nodeScriptBody(name), name, "bash");
        });

        test(`${name}: the rendered payload (envelope + body)`, (t) => {
            if (!needTools(t, "bash", "shellcheck")) return;
            checkShell(renderNodeScript(name, { node: "gw-1", env: sampleEnv(name) }), `${name} payload`, "bash");
        });
    }
});

describe("rendered gateway and keepalived scripts pass sh -n and shellcheck -S warning", () => {
    for (const v of variants().filter((x) => ["dev", "dev-haproxy", "prod"].includes(x.name))) {
        test(`${v.name}: gateway entrypoint.sh`, (t) => {
            if (!needTools(t, "sh", "shellcheck")) return;
            checkShell(renderGatewayFiles(v.plan.gateway, v.plan.routes).entrypoint.content, `${v.name} entrypoint`, "sh");
        });

        test(`${v.name}: check_gateway.sh and notify.sh`, (t) => {
            if (!needTools(t, "sh", "shellcheck")) return;
            const s = renderKeepalivedScripts(virtualIpOf(v.plan));
            checkShell(s.check, `${v.name} check_gateway.sh`, "sh");
            checkShell(s.notify, `${v.name} notify.sh`, "sh");
        });
    }
});

describe("the gateway's agent passes sh -n and shellcheck -S warning", () => {
    const file = path.join(__dirname, "..", "..", "templates", "gateway", "gateway-agent.sh");
    test("templates/gateway/gateway-agent.sh", (t) => {
        if (!needTools(t, "sh", "shellcheck")) return;
        checkShell(fs.readFileSync(file, "utf8"), "templates/gateway/gateway-agent.sh", "sh");
    });
});

describe("the lab node image's entrypoint passes sh -n and shellcheck -S warning", () => {
    const file = path.join(__dirname, "..", "..", "templates", "nodes", "entrypoint.sh");
    test("templates/nodes/entrypoint.sh", (t) => {
        if (!needTools(t, "sh", "shellcheck")) return;
        checkShell(fs.readFileSync(file, "utf8"), "templates/nodes/entrypoint.sh", "sh");
    });
});

describe("the bench's hand-written baseline passes bash -n and shellcheck -S warning", () => {
    const file = path.join(__dirname, "..", "..", "bench", "baseline.sh");
    test("bench/baseline.sh", (t) => {
        if (!needTools(t, "bash", "shellcheck")) return;
        checkShell(fs.readFileSync(file, "utf8"), "bench/baseline.sh", "bash");
    });
});

describe("the envelope, run by real bash -s", () => {
    test("exports env values with quotes, blanks, newlines and $(...) byte-exactly", (t) => {
        if (!needTools(t, "bash", "base64")) return;
        const out = tempDir("envelope");
        dirs.push(out);
        const body = `#!/usr/bin/env bash\nfor k in ${Object.keys(NASTY).join(" ")} NODE_NAME; do printf '%s' "\${!k}" >"$OUT_DIR/$k"; done\n`;
        const payload = renderEnvelope("probe", body, { node: "gw-1", env: { ...NASTY, OUT_DIR: out } });
        assertRunOk(run("bash", ["-s"], { input: payload }), "bash -s");
        for (const [k, v] of Object.entries(NASTY)) assert.equal(fs.readFileSync(path.join(out, k), "utf8"), v, k);
        assert.equal(fs.readFileSync(path.join(out, "NODE_NAME"), "utf8"), "gw-1");
        assert.ok(!fs.existsSync("/tmp/swarm-render-pwned"), "a value was executed");
    });

    test("the values never appear in the payload text (only their base64)", () => {
        const payload = renderEnvelope("probe", "true\n", { node: "gw-1", env: NASTY });
        for (const [k, v] of Object.entries(NASTY)) {
            if (v.trim().length >= 4) assert.ok(!payload.includes(v), `${k} appears in clear`);
            assert.ok(payload.includes(Buffer.from(v).toString("base64")), `${k} base64`);
        }
        const secret = renderNodeScript("swarm-join", { node: "gw-1", env: { ...sampleEnv("swarm-join"), JOIN_TOKEN: "SWMTKN-1-very-secret-token" } });
        assert.ok(!secret.includes("SWMTKN-1-very-secret-token"));
    });

    test("a failing command reports the node, the script and the line in the script body", (t) => {
        if (!needTools(t, "bash", "base64")) return;
        const body = "#!/usr/bin/env bash\nset -euo pipefail\necho before\nfalse\necho after\n";
        const r = run("bash", ["-s"], { input: renderEnvelope("probe-script", body, { node: "gw-2" }) });
        assert.notEqual(r.status, 0);
        assert.equal(r.stdout, "before\n");
        assert.match(r.stderr, /^node gw-2: probe-script failed \(line 4\)$/m);
    });

    test("a command failing inside a library names the library's file and its line there, not a line of the body", (t) => {
        if (!needTools(t, "bash", "base64")) return;
        const libs = [
            { file: "demo/first-lib.sh", text: "first() {\n    true\n}\n" },
            { file: "demo/second-lib.sh", text: "# shellcheck shell=bash\nsecond() {\n    echo in-second\n    false\n}\n" },
        ];
        const body = "#!/usr/bin/env bash\nset -euo pipefail\nfirst\nsecond\necho after\n";
        const r = run("bash", ["-s"], { input: renderEnvelope("probe-script", body, { node: "gw-2" }, libs) });
        assert.notEqual(r.status, 0);
        assert.equal(r.stdout, "in-second\n");
        assert.match(r.stderr, /^node gw-2: probe-script failed \(templates\/demo\/second-lib\.sh line 4\)$/m);
        const inBody = run("bash", ["-s"], { input: renderEnvelope("probe-script", "first\nfalse\n", { node: "gw-2" }, libs) });
        assert.match(inBody.stderr, /^node gw-2: probe-script failed \(line 2\)$/m, "a failure in the body still counts from the body's first line");
    });

    test("a command reading stdin cannot swallow the rest of the script", (t) => {
        if (!needTools(t, "bash", "base64")) return;
        const body = "#!/usr/bin/env bash\ncat >/dev/null\necho still-running\n";
        const r = run("bash", ["-s"], { input: renderEnvelope("probe", body, { node: "n" }) });
        assertRunOk(r, "bash -s");
        assert.equal(r.stdout, "still-running\n");
    });

    test("env names must be shell identifiers and not the envelope's own", () => {
        assert.throws(() => renderNodeScript("swarm-leave", { node: "n", env: { "BAD-NAME": "x" } }), /not a shell identifier/);
        assert.throws(() => renderNodeScript("swarm-leave", { node: "n", env: { "A;rm -rf /": "x" } }), /not a shell identifier/);
        assert.throws(() => renderNodeScript("swarm-leave", { node: "n", env: { NODE_NAME: "x" } }), /set by the envelope/);
        assert.throws(() => renderNodeScript("no-such-script" as NodeScript, { node: "n" }), /unknown node script/);
    });

    test("a script whose required env is missing fails with the variable's name", (t) => {
        if (!needTools(t, "bash", "base64")) return;
        const r = run("bash", ["-s"], { input: renderNodeScript("swarm-join", { node: "gw-1", env: { MANAGER_ADDR: "10.0.0.1:2377" } }) });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /JOIN_TOKEN is required/);
    });
});

describe("node script contracts that need no machine", () => {
    test("scripts with a result keep stdout for it alone (everything else goes to stderr)", () => {
        for (const name of NODE_SCRIPTS.filter((n) => !["node-ready", "ingress-remove"].includes(n))) {
            assert.match(nodeScriptBody(name), /^exec 3>&1 1>&2/m, name);
        }
    });

    test("join tokens and unlock keys are never echoed: swarm init/update output goes to /dev/null, the join's answer is printed only with its token scrubbed", () => {
        assert.match(nodeScriptBody("swarm-init"), /docker swarm init "\$\{args\[@\]\}" >\/dev\/null/);
        assert.match(nodeScriptBody("swarm-init"), /docker swarm update --autolock="\$AUTOLOCK" >\/dev\/null/);
        const join = nodeScriptBody("swarm-join");
        assert.doesNotMatch(join, /--token/, "the join token is on no command line");
        assert.match(join, /"JoinToken":"%s"\}' \\\n\s*"\$ADVERTISE_ADDR" "\$MANAGER_ADDR" "\$JOIN_TOKEN" \|/, "the token goes into the request on stdin");
        // the engine's answer is kept (a refusal names its cause), and the token is replaced before any use of it
        assert.match(join, /--data-binary @- http:\/\/localhost\/swarm\/join 2>&1\); then\n\s*answer=\$\{answer\/\/"\$JOIN_TOKEN"\/<token>\}\n/);
        assert.equal(join.match(/\$answer|\$\{answer/g)?.length, 3, "answer is used only after the scrub: the scrub, the deadline test, the refusal");
        for (const name of NODE_SCRIPTS) assert.doesNotMatch(nodeScriptBody(name), /(echo|printf)[^\n]*(JOIN_TOKEN|_token\b)[^\n]*>&2/, name);
    });

    test("keepalived is never sent SIGKILL (nor stopped by systemctl stop, which escalates to it)", () => {
        for (const name of ["keepalived-apply", "keepalived-stop"] as const) {
            const code = nodeScriptBody(name).split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
            assert.doesNotMatch(code, /kill\s+(-9|-KILL|-SIGKILL|-s\s*(SIG)?KILL)|--signal[= ](SIG)?KILL|systemctl stop keepalived/, name);
        }
    });
});
