// The node firewall and the engine API's certificates, run for real: the rendered helper through bash -n and
// shellcheck, every node's rules through iptables-restore in a throwaway network namespace, the helper's apply
// (twice: idempotent, hooked first exactly once) and remove, and engine-tls's certificates checked with openssl.
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { renderFirewallApply, renderFirewallRules, renderFirewallUnit } from "../../model/firewall";
import { renderNodeScript } from "../../model/scripts";
import { assertRunOk, createNetns, deleteNetns, needNetns, needTools, removeDir, run, stackPlan, tempDir, writeFile } from "./helpers";

const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

const inNetns = (netns: string, script: string) => run("ip", ["netns", "exec", netns, "bash", "-c", script]);

describe("node firewall", () => {
    test("the rendered helper passes bash -n and shellcheck; the unit names it", (t) => {
        if (!needTools(t, "bash", "shellcheck")) return;
        const helper = renderFirewallApply(stackPlan("dev").firewall);
        assertRunOk(run("bash", ["-n"], { input: helper }), "bash -n swarm-platform-firewall");
        assertRunOk(run("shellcheck", ["-S", "warning", "-"], { input: helper }), "shellcheck swarm-platform-firewall");
        assert.match(renderFirewallUnit(stackPlan("dev").firewall), /^ExecStart=\/usr\/local\/sbin\/swarm-platform-firewall apply$/m);
    });

    for (const stack of ["dev", "prod"] as const) {
        test(`${stack}: every node's rules load with iptables-restore; apply twice hooks the chain first, once; remove clears it`, (t) => {
            if (!needNetns(t, "iptables-restore loads the rules into a throwaway network namespace") || !needTools(t, "iptables", "iptables-restore")) return;
            const plan = stackPlan(stack);
            const dir = tempDir("firewall");
            dirs.push(dir);
            const rules = path.join(dir, "firewall.rules");
            const helper = writeFile(path.join(dir, "swarm-platform-firewall"), renderFirewallApply({ ...plan.firewall, paths: { ...plan.firewall.paths, rules } }), 0o755);
            for (const { node } of plan.firewall.nodes) {
                const netns = createNetns();
                try {
                    writeFile(rules, renderFirewallRules(plan.firewall, node));
                    // something already in INPUT (as ufw or docker would have): the chain must still come first
                    assertRunOk(inNetns(netns, "iptables -A INPUT -p tcp --dport 9 -j ACCEPT"), "a foreign rule");
                    assertRunOk(inNetns(netns, `${helper} apply && ${helper} apply`), `${node}: apply twice`);
                    const input = inNetns(netns, "iptables -S INPUT").stdout.trim().split("\n");
                    assert.deepEqual(input, ["-P INPUT ACCEPT", "-A INPUT -j SWARM-PLATFORM-INPUT", "-A INPUT -p tcp -m tcp --dport 9 -j ACCEPT"], node);
                    const chain = inNetns(netns, "iptables -S SWARM-PLATFORM-INPUT").stdout.trim().split("\n");
                    assert.equal(chain.at(-1), "-A SWARM-PLATFORM-INPUT -j DROP", node);
                    assert.equal(chain.length - 1, renderFirewallRules(plan.firewall, node).split("\n").filter((l) => l.startsWith("-A ")).length, `${node}: every rule loaded once`);
                    assertRunOk(inNetns(netns, `${helper} remove`), `${node}: remove`);
                    assert.deepEqual(inNetns(netns, "iptables -S INPUT").stdout.trim().split("\n"), ["-P INPUT ACCEPT", "-A INPUT -p tcp -m tcp --dport 9 -j ACCEPT"]);
                    assert.notEqual(inNetns(netns, "iptables -S SWARM-PLATFORM-INPUT").status, 0, "the chain is gone");
                } finally {
                    deleteNetns(netns);
                }
            }
        });
    }
});

describe("engine-tls", () => {
    test("one JSON line: a CA that signs a server certificate for the given names and a client certificate; no CA key", (t) => {
        if (!needTools(t, "bash", "openssl")) return;
        const r = run("bash", ["-s"], { input: renderNodeScript("engine-tls", { node: "manager-1", env: { SERVER_NAMES: "127.0.0.1 172.28.40.11 manager-1", VALIDITY_DAYS: "30", GENERATION: "1" } }) });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^\{.*\}\n$/, "exactly one JSON line");
        const out = JSON.parse(r.stdout) as Record<string, string>;
        assert.deepEqual(Object.keys(out).sort(), ["ca", "clientCert", "clientKey", "serverCert", "serverKey"], "the CA's key is not among them");
        const dir = tempDir("engine-tls");
        dirs.push(dir);
        const file = (name: string) => writeFile(path.join(dir, name), Buffer.from(out[name], "base64").toString("utf8"), 0o600);
        const [ca, server, client] = [file("ca"), file("serverCert"), file("clientCert")];
        assertRunOk(run("openssl", ["verify", "-CAfile", ca, server, client]), "both certificates verify against the CA");
        const text = (cert: string) => run("openssl", ["x509", "-in", cert, "-noout", "-text"]).stdout;
        assert.match(text(server), /IP Address:127\.0\.0\.1, IP Address:172\.28\.40\.11, DNS:manager-1/);
        assert.match(text(server), /TLS Web Server Authentication/);
        assert.match(text(client), /TLS Web Client Authentication/);
        assert.doesNotMatch(text(client), /TLS Web Server Authentication/);
        assert.match(text(ca), /CA:TRUE, pathlen:0/);
        for (const key of ["serverKey", "clientKey"]) assert.match(Buffer.from(out[key], "base64").toString("utf8"), /^-----BEGIN PRIVATE KEY-----/, key);
        assert.equal(r.stderr.includes("PRIVATE KEY"), false, "no key on stderr");
    });

    test("a different generation is a different payload (the program re-runs it: rotation)", () => {
        const payload = (generation: string) => renderNodeScript("engine-tls", { node: "manager-1", env: { SERVER_NAMES: "127.0.0.1", VALIDITY_DAYS: "30", GENERATION: generation } });
        assert.notEqual(payload("1"), payload("2"));
    });
});
