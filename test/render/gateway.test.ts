// Config-level behaviour of the rendered gateway: what nginx -t / haproxy -c accept but would still be wrong.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Plan } from "../../model";
import { renderGatewayFiles } from "../../model/gateway";
import { renderZoneFile } from "../../model/dns";
import { variants } from "./helpers";

const ALL = variants();
const byName = (name: string): Plan => {
    const v = ALL.find((x) => x.name === name);
    assert.ok(v, name);
    return v.plan;
};

/** nginx `server { … }` blocks at the top level of routes.conf (they contain no nested braces deeper than location). */
function nginxServers(routes: string): string[] {
    return [...routes.matchAll(/^server \{\n([\s\S]*?)^\}/gm)].map((m) => m[1]);
}

describe("nginx routes", () => {
    for (const v of ALL.filter((x) => x.plan.gateway.engine === "nginx")) {
        const files = renderGatewayFiles(v.plan.gateway, v.plan.routes);
        const routes = files.routes.content;
        const main = files.main.content;
        const servers = nginxServers(routes);

        test(`${v.name}: every proxy_pass takes the upstream from a variable and has no URI part`, () => {
            const passes = [...routes.matchAll(/^\s*proxy_pass (.*);$/gm)].map((m) => m[1]);
            assert.ok(passes.length >= v.plan.routes.length);
            for (const p of passes) assert.match(p, /^http:\/\/\$upstream:\d+$/, `proxy_pass ${p}: a URI part would replace the request URI`);
            for (const s of servers.filter((x) => x.includes("proxy_pass"))) {
                assert.match(s, /set \$upstream [a-z0-9-]+;\n\s+proxy_pass http:\/\/\$upstream:/);
            }
        });

        test(`${v.name}: one http server per hostname, routed to its release's service and port`, () => {
            for (const r of v.plan.routes) {
                const s = servers.find((x) => x.includes(`server_name ${r.hostname};`) && x.includes(`listen ${v.plan.gateway.ports.http};`));
                assert.ok(s, `no http server for ${r.hostname}`);
                assert.match(s, new RegExp(`set \\$upstream ${r.service};\\n\\s+proxy_pass http://\\$upstream:${r.port};`));
            }
        });

        test(`${v.name}: the health path answers 200 on the http port for any Host (default server and every hostname)`, () => {
            const http = servers.filter((s) => new RegExp(`listen ${v.plan.gateway.ports.http}[ ;]`).test(s));
            assert.equal(http.length, v.plan.routes.length + 1);
            for (const s of http) assert.match(s, new RegExp(`location = ${v.plan.gateway.healthPath} \\{[^}]*return 200 `));
        });

        test(`${v.name}: the default server ${v.plan.gateway.defaultHost === "reject" ? "closes unknown hosts with 444" : "proxies to the default host"}`, () => {
            const def = servers.find((s) => /listen \d+ default_server;/.test(s));
            assert.ok(def);
            if (v.plan.gateway.defaultHost === "reject") assert.match(def, /location \/ \{\n\s+return 444;/);
            else {
                const route = v.plan.routes.find((r) => r.hostname === v.plan.gateway.defaultHost);
                assert.ok(route);
                assert.match(def, new RegExp(`set \\$upstream ${route.service};\\n\\s+proxy_pass http://\\$upstream:${route.port};`));
            }
        });

        test(`${v.name}: TLS hostnames get an https server with their certificate; unknown SNI is rejected`, () => {
            const https = servers.filter((s) => s.includes(`listen ${v.plan.gateway.ports.https} ssl`));
            const tlsRoutes = v.plan.routes.filter((r) => r.tls);
            if (v.plan.gateway.tls.length === 0) {
                assert.deepEqual(https, []);
                return;
            }
            const def = https.find((s) => s.includes("default_server"));
            assert.ok(def);
            assert.match(def, /ssl_reject_handshake on;/);
            for (const r of tlsRoutes) {
                const cert = v.plan.gateway.tls.find((t) => t.name === r.tls);
                const s = https.find((x) => x.includes(`server_name ${r.hostname};`));
                assert.ok(s && cert, r.hostname);
                assert.match(s, new RegExp(`ssl_certificate ${cert.certificatePath};\\n\\s+ssl_certificate_key ${cert.keyPath};`));
                assert.match(s, new RegExp(`set \\$upstream ${r.service};`));
            }
            assert.equal(https.length, tlsRoutes.length + 1);
        });

        test(`${v.name}: Docker DNS with a short cache, WebSocket map in the static config, forwarded headers`, () => {
            assert.match(routes, new RegExp(`^resolver 127\\.0\\.0\\.11 valid=${v.plan.gateway.resolverValid}s ipv6=off;$`, "m"));
            assert.match(main, /map \$http_upgrade \$connection_upgrade \{/);
            assert.match(main, new RegExp(`include ${v.plan.gateway.routesDir}/routes\\.conf;`));
            for (const h of ["X-Forwarded-For \\$proxy_add_x_forwarded_for", "X-Forwarded-Proto \\$scheme", "X-Forwarded-Host \\$host", "Upgrade \\$http_upgrade", "Connection \\$connection_upgrade"]) {
                assert.match(routes, new RegExp(`^proxy_set_header ${h};$`, "m"));
            }
            assert.match(routes, /^proxy_http_version 1\.1;$/m);
            assert.match(routes, new RegExp(`^client_max_body_size ${v.plan.gateway.clientMaxBodySize};$`, "m"));
            const t = v.plan.gateway.timeouts;
            assert.match(routes, new RegExp(`proxy_connect_timeout ${t.connect}s;\\nproxy_read_timeout ${t.read}s;\\nproxy_send_timeout ${t.send}s;`));
        });
    }
});

/** An HAProxy section: from its header line to the next blank line. */
function section(cfg: string, header: string): string {
    const found = cfg.split(/\n\n+/).find((s) => s.startsWith(`${header}\n`));
    assert.ok(found, `no section "${header}"`);
    return found;
}

describe("HAProxy routes", () => {
    for (const v of ALL.filter((x) => x.plan.gateway.engine === "haproxy")) {
        const files = renderGatewayFiles(v.plan.gateway, v.plan.routes);
        const routes = files.routes.content;
        const main = files.main.content;

        test(`${v.name}: one backend per routed service with server-template slots on tasks.<service>`, () => {
            const services = [...new Set(v.plan.routes.map((r) => r.service))];
            for (const service of services) {
                const r = v.plan.routes.find((x) => x.service === service);
                assert.ok(r);
                assert.match(routes, new RegExp(`^backend svc\\.${service}$`, "m"));
                assert.match(routes, new RegExp(`^\\s+server-template ${service} ${r.slots} tasks\\.${service}:${r.port} check resolvers docker resolve-prefer ipv4 init-addr none$`, "m"));
            }
            assert.equal([...routes.matchAll(/^\s+server-template /gm)].length, services.length);
        });

        test(`${v.name}: host rules route every hostname, exact names before wildcards`, () => {
            const http = section(routes, "frontend http");
            const rules = [...http.matchAll(/use_backend (\S+) if \{ var\(txn\.host\) -m (str|end) (\S+) \}/g)].map((m) => ({ backend: m[1], match: m[2], pattern: m[3] }));
            assert.equal(rules.length, v.plan.routes.length);
            const firstWildcard = rules.findIndex((r) => r.match === "end");
            if (firstWildcard >= 0) assert.ok(rules.slice(firstWildcard).every((r) => r.match === "end"), "a wildcard rule before an exact one");
            for (const r of v.plan.routes) {
                const pattern = r.hostname.startsWith("*.") ? r.hostname.slice(1) : r.hostname;
                assert.ok(rules.some((x) => x.pattern === pattern && x.backend === `svc.${r.service}`), r.hostname);
            }
        });

        test(`${v.name}: health on the http frontend for any Host, before routing; unknown hosts get no answer`, () => {
            const http = section(routes, "frontend http");
            assert.match(http, new RegExp(`http-request return status 200 .* if \\{ path ${v.plan.gateway.healthPath} \\}`));
            if (v.plan.routes.length) assert.ok(http.indexOf("http-request return") < http.indexOf("use_backend"));
            const expected = v.plan.gateway.defaultHost === "reject" ? "reject" : `svc.${v.plan.routes.find((r) => r.hostname === v.plan.gateway.defaultHost)?.service}`;
            assert.match(http, new RegExp(`default_backend ${expected.replace(".", "\\.")}$`, "m"));
            assert.match(routes, /^backend reject\n\s+http-request reject$/m);
        });

        test(`${v.name}: master-worker, Docker DNS resolvers and the TLS key lookup in the static config`, () => {
            assert.match(main, /^\s+master-worker$/m);
            assert.match(main, /^resolvers docker\n\s+nameserver dns 127\.0\.0\.11:53$/m);
            assert.match(main, new RegExp(`^\\s+hold valid ${v.plan.gateway.resolverValid}s$`, "m"));
            assert.equal(/ssl-load-extra-del-ext/.test(main), v.plan.gateway.tls.length > 0);
            if (v.plan.gateway.tls.length) {
                assert.match(routes, new RegExp(`bind :${v.plan.gateway.ports.https} ssl strict-sni${v.plan.gateway.tls.map((t) => ` crt ${t.certificatePath}`).join("")}$`, "m"));
            }
        });
    }
});

describe("gateway image", () => {
    for (const v of ALL.filter((x) => x.name === "dev" || x.name === "dev-haproxy" || x.name === "prod")) {
        const gw = v.plan.gateway;
        const files = renderGatewayFiles(v.plan.gateway, v.plan.routes);

        test(`${v.name}: Dockerfile builds FROM the base image, copies the static config and entrypoint, checks health`, () => {
            const d = files.dockerfile;
            assert.match(d, new RegExp(`^FROM ${gw.baseImage}$`, "m"));
            assert.match(d, /command -v curl/);
            assert.match(d, new RegExp(`^COPY ${gw.mainFile.name} ${gw.mainFile.path}$`, "m"));
            assert.match(d, new RegExp(`^COPY ${files.entrypoint.name} /usr/local/bin/gateway-entrypoint$`, "m"));
            assert.match(d, /^ENTRYPOINT \["\/usr\/local\/bin\/gateway-entrypoint"\]$/m);
            assert.match(d, /^STOPSIGNAL SIGTERM$/m);
            assert.match(d, new RegExp(`HEALTHCHECK [^\\n]*\\\\\\n\\s+CMD \\["curl", "-fsS", "-o", "/dev/null", "http://127\\.0\\.0\\.1:${gw.ports.http}${gw.healthPath}"\\]`));
            assert.doesNotMatch(d, new RegExp(gw.routesFile.name), "routes must not be baked into the image");
        });

        test(`${v.name}: the entrypoint drains ${gw.drainSeconds} s before a graceful ${gw.stopSignal}`, () => {
            const e = files.entrypoint.content;
            assert.match(e, new RegExp(`rm -f "\\$state_dir/draining"`));
            assert.match(e, new RegExp(`state_dir='${gw.stateDir}'`));
            assert.match(e, new RegExp(`drain_seconds=${gw.drainSeconds}\\n`));
            assert.match(e, new RegExp(`touch "\\$state_dir/draining"\\n\\s+sleep "\\$drain_seconds"\\n\\s+kill -${gw.stopSignal} "\\$engine"`));
            const start = gw.engine === "nginx" ? "nginx -g 'daemon off;' &" : `haproxy -W -db -f '${gw.mainFile.path}' -f '${gw.routesFile.path}' &`;
            assert.ok(e.includes(start), start);
        });
    }
});

describe("template values", () => {
    test("a value with a line break is refused instead of adding config lines", () => {
        const dev = byName("dev");
        const injected: Plan = { ...dev, routes: dev.routes.map((r, i) => (i === 0 ? { ...r, service: "x;\n    return 200 pwned" } : r)) };
        assert.throws(() => renderGatewayFiles(injected.gateway, injected.routes), /contains a line break/);
    });

    test("a path that is not shell-safe is refused in the generated scripts", () => {
        const dev = byName("dev");
        assert.throws(() => renderGatewayFiles({ ...dev.gateway, stateDir: "/run/x'; rm -rf /" }, dev.routes), /not safe in a generated script/);
    });
});

describe("DNS zone snippet", () => {
    test("one absolute A record per plan record, with the stack's TTL", () => {
        for (const v of ALL.slice(0, 2)) {
            const zone = renderZoneFile(v.plan.dns);
            const records = [...zone.matchAll(/^(\S+)\t(\d+)\tIN\tA\t(\S+)$/gm)].map((m) => ({ name: m[1], ttl: Number(m[2]), value: m[3] }));
            assert.deepEqual(records, v.plan.dns.records.map((r) => ({ name: `${r.name}.`, ttl: r.ttl, value: r.value })));
            assert.match(zone, new RegExp(`^\\$TTL ${v.plan.dns.ttl}$`, "m"));
        }
    });

    test("without records the snippet has only the default $TTL", () => {
        assert.equal(renderZoneFile(byName("bare").dns).split("\n").filter((l) => l && !l.startsWith(";")).join("\n"), "$TTL 300");
    });

    test("a wildcard hostname becomes a wildcard record", () => {
        assert.match(renderZoneFile(byName("tls").dns), /^\*\.sklep\.localhost\.\t300\tIN\tA\t172\.28\.40\.100$/m);
    });
});
