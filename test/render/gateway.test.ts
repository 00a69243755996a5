// Config-level behaviour of the rendered gateway: what nginx -t / haproxy -c accept but would still be wrong.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Plan, type PlanRoute } from "../../model";
import { reachableBackends } from "../../model/releases";
import { NGINX_UPSTREAMS_DIR, renderGatewayFiles, STRIPPED_REQUEST_HEADERS, TLS_PROFILE } from "../../model/gateway";
import { renderZoneFile } from "../../model/dns";
import * as fs from "node:fs";
import * as path from "node:path";
import { removeDir, run, tempDir, variants, writeFile } from "./helpers";

const ALL = variants();
const byName = (name: string): Plan => {
    const v = ALL.find((x) => x.name === name);
    assert.ok(v, name);
    return v.plan;
};

/** The services a route can send requests to (weights above 0, or pinnable). */
const servicesOf = (r: PlanRoute) => reachableBackends(r).map((b) => b.service);
/** How a server block passes a route's requests: to its one service's upstream, or to the upstream its maps chose. */
const nginxPass = (plan: Plan, r: PlanRoute) => {
    const services = servicesOf(r);
    return services.length === 1 ? `proxy_pass http://svc\\.${services[0]};` : `proxy_pass http://\\$gw_r${plan.routes.indexOf(r)}_upstream;`;
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

        /** The upstream block of a service: a `down` placeholder, its tasks' file from the entrypoint, a keepalive pool. */
        const upstreamOf = (service: string) => new RegExp(`^upstream svc\\.${service} \\{\\n([\\s\\S]*?)^\\}`, "m").exec(routes)?.[1];

        test(`${v.name}: every proxy_pass names its service's upstream and has no URI part; each upstream keeps connections alive`, () => {
            const passes = [...routes.matchAll(/^\s*proxy_pass (.*);$/gm)].map((m) => m[1]);
            assert.ok(passes.length >= v.plan.routes.length);
            // A variable proxy_pass names one of the upstream blocks (its map's values): nginx uses that block, no resolver.
            for (const p of passes) assert.match(p, /^http:\/\/(svc\.[a-z0-9-]+|\$gw_r\d+_upstream)$/, `proxy_pass ${p}: a URI part would replace the request URI`);
            assert.doesNotMatch(routes, /\$upstream|^resolver /m, "no per-request resolution: it rules out backend keepalive");
            for (const b of v.plan.routes.flatMap(reachableBackends)) {
                const block = upstreamOf(b.service);
                assert.ok(block, `no upstream for ${b.service}`);
                assert.match(block, new RegExp(`^\\s+server 127\\.0\\.0\\.1:${b.port} down;\\n\\s+include ${NGINX_UPSTREAMS_DIR}/${b.service}@${b.port}\\.conf\\*;\\n\\s+keepalive \\d+;`));
                assert.match(block, /keepalive_timeout [1-4]s;/, "closed before a backend's 5 s idle timeout");
            }
            for (const [, chosen] of routes.matchAll(/^\s+"[^"]+" (svc\.\S+);$/gm)) assert.ok(upstreamOf(chosen.slice(4)), `${chosen}: a map value without its upstream block`);
            assert.equal([...routes.matchAll(/^upstream /gm)].length, new Set(v.plan.routes.flatMap(servicesOf)).size, "one upstream per service");
            assert.match(routes, /^map \$gw_upgrade \$gw_connection \{\n\s+websocket upgrade;\n\s+default\s+"";\n\}/m, "no Connection: close on ordinary requests");
            assert.match(main, /^\s+access_log \/dev\/stdout gateway buffer=\d+k flush=1s;$/m, "a full access log, written in blocks");
        });

        test(`${v.name}: one http server per hostname, routed to its release's service, or redirected to HTTPS for a TLS hostname`, () => {
            for (const r of v.plan.routes) {
                const s = servers.find((x) => x.includes(`server_name ${r.hostname};`) && x.includes(`listen ${v.plan.gateway.ports.http};`));
                assert.ok(s, `no http server for ${r.hostname}`);
                if (r.tls && v.plan.gateway.httpsRedirect) {
                    assert.match(s, /location \/ \{\n\s+return 308 https:\/\/\$host\$request_uri;/);
                    assert.doesNotMatch(s, /proxy_pass/);
                } else assert.match(s, new RegExp(`location / \\{\\n\\s+${nginxPass(v.plan, r)}`));
            }
        });

        test(`${v.name}: the health path answers 200 only on the health socket; no network server has it`, () => {
            const health = servers.filter((s) => s.includes(`listen unix:${v.plan.gateway.healthSocket};`));
            assert.equal(health.length, 1);
            assert.match(health[0], new RegExp(`location = ${v.plan.gateway.healthPath} \\{[^}]*return 200 `));
            assert.match(health[0], /location \/ \{\n\s+return 404;/);
            for (const s of servers.filter((x) => x !== health[0])) assert.doesNotMatch(s, new RegExp(v.plan.gateway.healthPath));
        });

        test(`${v.name}: the default server ${v.plan.gateway.defaultHost === "reject" ? "closes unknown hosts with 444" : "proxies to the default host"}`, () => {
            const def = servers.find((s) => /listen \d+ default_server;/.test(s));
            assert.ok(def);
            if (v.plan.gateway.defaultHost === "reject") assert.match(def, /location \/ \{\n\s+return 444;/);
            else {
                const route = v.plan.routes.find((r) => r.hostname === v.plan.gateway.defaultHost);
                assert.ok(route);
                assert.match(def, new RegExp(nginxPass(v.plan, route)));
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
                assert.match(s, new RegExp(nginxPass(v.plan, r)));
            }
            assert.equal(https.length, tlsRoutes.length + 1);
        });

        test(`${v.name}: the entrypoint follows Docker DNS every resolverValid s; forwarding headers, stripped headers, WebSocket-only upgrades`, () => {
            const entrypoint = files.entrypoint.content;
            assert.match(entrypoint, new RegExp(`^while sleep ${v.plan.gateway.resolverValid} && kill -0 "\\$engine"`, "m"));
            assert.match(entrypoint, new RegExp(`fail_timeout=${v.plan.gateway.resolverValid}s`));
            assert.match(main, new RegExp(`include ${v.plan.gateway.routesDir}/routes\\.conf;`));
            const headers = ["X-Forwarded-For \\$gw_forwarded_for", "X-Real-IP \\$gw_real_ip", "X-Forwarded-Proto \\$gw_forwarded_proto", "X-Forwarded-Host \\$gw_forwarded_host"];
            headers.push("X-Forwarded-Port \\$gw_forwarded_port", "Forwarded \\$gw_forwarded", "Upgrade \\$gw_upgrade", "Connection \\$gw_connection", "Host \\$http_host");
            for (const h of headers) assert.match(routes, new RegExp(`^proxy_set_header ${h};$`, "m"));
            for (const h of STRIPPED_REQUEST_HEADERS) assert.match(routes, new RegExp(`^proxy_set_header ${h} "";$`, "m"));
            assert.match(routes, /^map \$http_upgrade \$gw_upgrade \{\n\s+"~\*\^websocket\$" websocket;\n\s+default\s+"";\n\}/m);
            const geo = /^geo \$gw_trusted_proxy \{\n\s+default 0;\n([\s\S]*?)\}/m.exec(routes);
            assert.ok(geo);
            assert.deepEqual([...geo[1].matchAll(/^\s+(\S+) 1;$/gm)].map((m) => m[1]), v.plan.gateway.trustedProxies);
            // Nothing below the http level may set a header: one proxy_set_header there would drop all of these.
            for (const s of servers) assert.doesNotMatch(s, /proxy_set_header/);
            assert.match(routes, /^proxy_http_version 1\.1;$/m);
            assert.match(routes, new RegExp(`^client_max_body_size ${v.plan.gateway.clientMaxBodySize};$`, "m"));
            const t = v.plan.gateway.timeouts;
            const retry = v.plan.gateway.retry;
            assert.match(
                routes,
                new RegExp(
                    `proxy_connect_timeout ${Math.round(t.connect * 1000)}ms;\\n(?:#.*\\n)*proxy_next_upstream error timeout;\\nproxy_next_upstream_tries ${retry.tries};\\n` +
                        `proxy_next_upstream_timeout ${Math.round(retry.withinSeconds * 1000)}ms;\\nproxy_read_timeout ${t.read}s;\\nproxy_send_timeout ${t.send}s;`,
                ),
            );
            assert.doesNotMatch(routes, /non_idempotent/, "a POST that reached a task is never sent to another");
        });
    }
});

describe("nginx gateway: the entrypoint's upstream rounds (its own functions under sh, getent stubbed)", () => {
    const v = ALL.find((x) => x.plan.gateway.engine === "nginx");
    assert.ok(v, "an nginx variant");
    const files = renderGatewayFiles(v.plan.gateway, v.plan.routes);

    test("a round that finds the same tasks writes nothing; a new task, a task gone (after one more round) and a reload's new services are written", (t) => {
        const dir = tempDir("upstream-rounds-");
        t.after(() => removeDir(dir));
        const upstreams = path.join(dir, "upstreams");
        const routesPath = path.join(dir, "routes.conf");
        const local = (text: string) => text.split(NGINX_UPSTREAMS_DIR).join(upstreams).split(v.plan.gateway.routesFile.path).join(routesPath);
        const entrypoint = local(files.entrypoint.content);
        const from = entrypoint.indexOf("upstreams_dir=");
        const to = entrypoint.indexOf('mkdir -p "$upstreams_dir"\nrefresh_upstreams start');
        assert.ok(from > 0 && to > from, "the entrypoint's upstream functions");
        const functions = writeFile(path.join(dir, "functions.sh"), entrypoint.slice(from, to));
        let routes = local(files.routes.content);
        writeFile(routesPath, routes);
        const services = [...routes.matchAll(/include \S+\/([^@/]+)@(\d+)\.conf\*;/g)].map((m) => ({ name: m[1], port: m[2] }));
        assert.ok(services.length >= 2, "two routed services");
        const [a, b] = services;
        // getent stub: answers `hosts NAME...` from dns.txt (`address name` lines), logs each call's names
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        writeFile(path.join(bin, "getent"), `#!/bin/sh\nshift\necho "$*" >>${dir}/getent.log\nfor n in "$@"; do grep " $n$" ${dir}/dns.txt || true; done\n`, 0o755);
        fs.mkdirSync(upstreams);
        const round = (mode: "start" | "watch" | "reload", dns: Record<string, string[]>) => {
            writeFile(path.join(dir, "dns.txt"), Object.entries(dns).flatMap(([name, addrs]) => addrs.map((x) => `${x} tasks.${name}\n`)).join(""));
            const r = run("sh", ["-euc", `. "$1"; mkdir -p "$upstreams_dir"; if refresh_upstreams ${mode}; then echo changed; else echo unchanged; fi`, "round", functions], {
                env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
            });
            assert.equal(r.status, 0, r.stderr);
            return r.stdout.trim();
        };
        const conf = (s: { name: string; port: string }) => fs.readFileSync(path.join(upstreams, `${s.name}@${s.port}.conf`), "utf8");
        const servers = (s: { port: string }, ...addrs: string[]) => addrs.map((x) => `server ${x}:${s.port} max_fails=1 fail_timeout=${v.plan.gateway.resolverValid}s;\n`).join("");
        const lookups = () => fs.readFileSync(path.join(dir, "getent.log"), "utf8").trim().split("\n");

        assert.equal(round("start", { [a.name]: ["10.0.9.2", "10.0.9.1"] }), "changed");
        assert.equal(conf(a), servers(a, "10.0.9.1", "10.0.9.2"), "addresses sorted");
        assert.equal(conf(b), "", "a service that never answered: an empty file (its upstream's down placeholder)");

        // the same tasks in another order: nothing is rewritten (the files keep their old times)
        // (whole seconds: a millisecond time set through utimes can read back a microsecond off)
        const old = new Date(Math.floor(Date.now() / 1000 - 60) * 1000);
        const touched = [".state", ".addresses", `${a.name}@${a.port}.conf`, `${b.name}@${b.port}.conf`].map((f) => path.join(upstreams, f));
        for (const f of touched) fs.utimesSync(f, old, old);
        assert.equal(round("watch", { [a.name]: ["10.0.9.1", "10.0.9.2"] }), "unchanged");
        for (const f of touched) assert.equal(fs.statSync(f).mtimeMs, old.getTime(), `${path.basename(f)} was rewritten`);
        assert.deepEqual(fs.readdirSync(upstreams).filter((f) => f.startsWith(".") && fs.statSync(path.join(upstreams, f)).isDirectory()), [], "no scratch dir left");
        assert.equal(lookups().at(-1), services.map((s) => `tasks.${s.name}`).join(" "), "a watcher round: one lookup of every routed service");

        assert.equal(round("watch", { [a.name]: ["10.0.9.1", "10.0.9.2", "10.0.9.3"] }), "changed");
        assert.equal(conf(a), servers(a, "10.0.9.1", "10.0.9.2", "10.0.9.3"));
        // no answer: kept one more round (a lost answer is not a removed service), then emptied
        assert.equal(round("watch", {}), "unchanged");
        assert.equal(conf(a), servers(a, "10.0.9.1", "10.0.9.2", "10.0.9.3"));
        assert.match(fs.readFileSync(path.join(upstreams, ".state"), "utf8"), new RegExp(`^${a.name} ${a.port} -$`, "m"));
        assert.equal(round("watch", {}), "changed");
        assert.equal(conf(a), "");
        assert.equal(round("watch", { [a.name]: ["10.0.9.4"] }), "changed");
        assert.equal(conf(a), servers(a, "10.0.9.4"));

        // routes without the first service: a reload reads them again; the watcher then asks only for what is routed
        routes = routes.replace(new RegExp(`^.*include \\S+/${a.name}@${a.port}\\.conf\\*;\n`, "gm"), "");
        writeFile(routesPath, routes);
        assert.equal(round("reload", { [a.name]: ["10.0.9.4"], [b.name]: ["10.0.9.5"] }), "changed");
        assert.equal(conf(b), servers(b, "10.0.9.5"));
        assert.equal(round("watch", { [a.name]: ["10.0.9.4"], [b.name]: ["10.0.9.5"] }), "unchanged");
        assert.ok(!lookups().at(-1)?.split(" ").includes(`tasks.${a.name}`), `no longer asked for ${a.name}: ${lookups().at(-1)}`);

        // a watcher round that read the names before a reload changed the services (here: the names of the routes
        // before) writes nothing, even with new answers: the reload's own round has written those files
        const before = conf(b);
        writeFile(path.join(upstreams, ".names"), services.map((s) => `tasks.${s.name}`).join(" ") + "\n");
        assert.equal(round("watch", { [a.name]: ["10.0.9.4"], [b.name]: ["10.0.9.6"] }), "unchanged");
        assert.equal(conf(b), before, "a stale round rewrote an upstream");
    });
});

/** An HAProxy section: from its header line (after any comment lines) to the next blank line. */
function section(cfg: string, header: string): string {
    const found = cfg
        .split(/\n\n+/)
        .map((s) => s.replace(/^(#[^\n]*\n)+/, ""))
        .find((s) => s.startsWith(`${header}\n`));
    assert.ok(found, `no section "${header}"`);
    return found;
}

describe("HAProxy routes", () => {
    for (const v of ALL.filter((x) => x.plan.gateway.engine === "haproxy")) {
        const files = renderGatewayFiles(v.plan.gateway, v.plan.routes);
        const routes = files.routes.content;
        const main = files.main.content;

        test(`${v.name}: one backend per routed service with server-template slots on tasks.<service>`, () => {
            const services = [...new Set(v.plan.routes.flatMap(servicesOf))];
            for (const service of services) {
                const r = v.plan.routes.flatMap(reachableBackends).find((x) => x.service === service);
                assert.ok(r);
                assert.match(routes, new RegExp(`^backend svc\\.${service}$`, "m"));
                assert.match(routes, new RegExp(`^\\s+server-template ${service} ${r.slots} tasks\\.${service}:${r.port} check inter 1s fastinter 500ms downinter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down resolvers docker resolve-prefer ipv4 init-addr last,none$`, "m"));
            }
            assert.equal([...routes.matchAll(/^\s+server-template /gm)].length, services.length);
            assert.equal([...routes.matchAll(/^\s+http-request disable-l7-retry if \{ method POST PATCH LOCK \}$/gm)].length, services.length, "every backend resends no non-idempotent request");
        });

        test(`${v.name}: host rules route every hostname, exact names before wildcards`, () => {
            const http = section(routes, "frontend http");
            // A hostname more than one release can serve is matched once into txn.gw_route, in the same order.
            const rules = [...http.matchAll(/(?:use_backend (\S+)|set-var\(txn\.gw_route\) int\((-?\d+)\)) if (?:!\{ var\(txn\.gw_route\) -m found \} )?\{ var\(txn\.host\) -m (str|end) (\S+) \}/g)].map((m) => ({
                backend: m[1] ?? `route ${m[2]}`,
                match: m[3],
                pattern: m[4],
            }));
            const routeRules = rules.filter((r) => r.backend.startsWith("route "));
            if (routeRules.length) assert.equal(routeRules.length, v.plan.routes.length, "every hostname sets txn.gw_route");
            assert.equal(rules.length - routeRules.length, v.plan.routes.filter((r) => servicesOf(r).length === 1 || (r.tls && v.plan.gateway.httpsRedirect)).length);
            for (const kind of [routeRules, rules.filter((r) => !routeRules.includes(r))]) {
                const firstWildcard = kind.findIndex((r) => r.match === "end");
                if (firstWildcard >= 0) assert.ok(kind.slice(firstWildcard).every((r) => r.match === "end"), "a wildcard rule before an exact one");
            }
            for (const r of v.plan.routes) {
                const pattern = r.hostname.startsWith("*.") ? r.hostname.slice(1) : r.hostname;
                const redirect = r.tls && v.plan.gateway.httpsRedirect;
                const backend = redirect ? "https-redirect" : servicesOf(r).length === 1 ? `svc.${servicesOf(r)[0]}` : `route ${v.plan.routes.indexOf(r)}`;
                assert.ok(rules.some((x) => x.pattern === pattern && x.backend === backend), r.hostname);
                if (!redirect && servicesOf(r).length > 1) {
                    for (const b of reachableBackends(r)) {
                        assert.ok(http.includes(`use_backend svc.${b.service} if { var(txn.gw_route) -m int ${v.plan.routes.indexOf(r)} } { var(txn.gw_release) -m str -i ${b.release} }`), `${r.hostname} → ${b.release}`);
                    }
                }
            }
            if (v.plan.routes.some((r) => r.tls)) {
                assert.match(routes, /^backend https-redirect\n\s+http-request redirect location https:\/\/%\[var\(txn\.host\)\]%\[capture\.req\.uri\] code 308$/m);
            }
        });

        test(`${v.name}: health only on the health socket; unknown hosts get no answer`, () => {
            const health = section(routes, "frontend health");
            assert.match(health, new RegExp(`^\\s+bind unix@${v.plan.gateway.healthSocket} mode 666$`, "m"));
            assert.match(health, new RegExp(`http-request return status 200 .* if \\{ path ${v.plan.gateway.healthPath} \\}\\n\\s+http-request deny deny_status 404`));
            const config = routes.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
            assert.equal(config.split(v.plan.gateway.healthPath).length, 2, "the health path appears in the health frontend only");
            const http = section(routes, "frontend http");
            const defaultRoute = v.plan.routes.find((r) => r.hostname === v.plan.gateway.defaultHost);
            const expected = defaultRoute ? `svc.${reachableBackends(defaultRoute).find((b) => b.weight > 0)?.service}` : "reject";
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

describe("one TLS profile and one set of client timeouts, rendered into both engines", () => {
    for (const v of ALL.filter((x) => x.name === "tls" || x.name === "tls-haproxy")) {
        const files = renderGatewayFiles(v.plan.gateway, v.plan.routes);
        const p = TLS_PROFILE;
        test(`${v.name}: protocols, ciphers, TLS 1.3 suites, curves, client cipher preference, no tickets`, () => {
            if (v.plan.gateway.engine === "nginx") {
                const r = files.routes.content;
                assert.match(r, new RegExp(`^ssl_protocols ${p.protocols.join(" ")};$`, "m"));
                assert.match(r, new RegExp(`^ssl_ciphers ${p.ciphers.join(":")};$`, "m"));
                assert.match(r, new RegExp(`^ssl_conf_command Ciphersuites ${p.ciphersuites.join(":")};$`, "m"));
                assert.match(r, new RegExp(`^ssl_ecdh_curve ${p.curves.join(":")};$`, "m"));
                assert.match(r, /^ssl_prefer_server_ciphers off;$/m);
                assert.match(r, /^ssl_session_tickets off;$/m);
                assert.match(r, new RegExp(`^ssl_session_timeout ${p.sessionTimeout}s;$`, "m"));
            } else {
                const m = files.main.content;
                assert.match(m, new RegExp(`^\\s+ssl-default-bind-ciphers ${p.ciphers.join(":")}$`, "m"));
                assert.match(m, new RegExp(`^\\s+ssl-default-bind-ciphersuites ${p.ciphersuites.join(":")}$`, "m"));
                assert.match(m, new RegExp(`^\\s+ssl-default-bind-curves ${p.curves.join(":")}$`, "m"));
                assert.match(m, /^\s+ssl-default-bind-options ssl-min-ver TLSv1\.2 no-tls-tickets prefer-client-ciphers$/m);
                assert.match(m, new RegExp(`^\\s+tune\\.ssl\\.lifetime ${p.sessionTimeout}$`, "m"));
            }
        });
    }

    for (const v of ALL.filter((x) => x.name === "dev" || x.name === "dev-haproxy")) {
        const files = renderGatewayFiles(v.plan.gateway, v.plan.routes);
        const t = v.plan.gateway.clientTimeouts;
        test(`${v.name}: header, idle and keep-alive client timeouts from gateway.clientTimeouts`, () => {
            const m = files.main.content;
            if (v.plan.gateway.engine === "nginx") {
                for (const [d, s] of [["client_header_timeout", t.header], ["client_body_timeout", t.idle], ["send_timeout", t.idle], ["keepalive_timeout", t.keepAlive]]) {
                    assert.match(m, new RegExp(`^\\s+${d} ${s}s;$`, "m"));
                }
            } else {
                for (const [d, s] of [["http-request", t.header], ["client", t.idle], ["http-keep-alive", t.keepAlive]]) assert.match(m, new RegExp(`^\\s+timeout ${d} ${s}s$`, "m"));
                assert.match(m, /^\s+errorfile 408 \/dev\/null$/m);
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
            assert.match(
                d,
                new RegExp(`HEALTHCHECK [^\\n]*\\\\\\n\\s+CMD \\["curl", "-fsS", "-o", "/dev/null", "--unix-socket", "${gw.healthSocket}", "http://localhost${gw.healthPath}"\\]`),
            );
            assert.doesNotMatch(d, new RegExp(gw.routesFile.name), "routes must not be baked into the image");
        });

        test(`${v.name}: the entrypoint drains ${gw.drainSeconds} s before a graceful ${gw.stopSignal}`, () => {
            const e = files.entrypoint.content;
            assert.match(e, new RegExp(`rm -f "\\$state_dir/draining"`));
            assert.match(e, new RegExp(`state_dir='${gw.stateDir}'`));
            assert.match(e, new RegExp(`drain_seconds=${gw.drainSeconds}\\n`));
            assert.match(e, new RegExp(`touch "\\$state_dir/draining"\\n\\s+sleep "\\$drain_seconds"\\n\\s+kill -${gw.stopSignal} "\\$engine"`));
            const start = gw.engine === "nginx" ? "nginx -g 'daemon off;' &" : `haproxy -W -db -f '${gw.mainFile.path}' -f '${gw.routesFile.path}' >&4 3>&- 4>&- &`;
            assert.ok(e.includes(start), start);
            // HAProxy's log (fd 4): the metrics FIFO, else the log relay's FIFO.
            if (gw.engine === "haproxy") assert.ok(e.includes(gw.metrics.enabled ? 'exec 4>"$metrics_fifo"\n' : '[ -z "$log_fifo" ] || exec 4>"$log_fifo"\n'));
        });

        test(`${v.name}: with no routes file the entrypoint exits 78 at once, before touching anything (node-settle reads the code)`, () => {
            const dir = tempDir("gateway-no-routes");
            try {
                const noRoutes = { ...gw, routesFile: { ...gw.routesFile, path: path.join(dir, gw.routesFile.name) }, stateDir: path.join(dir, "state") };
                const entrypoint = writeFile(path.join(dir, "entrypoint.sh"), renderGatewayFiles(noRoutes, v.plan.routes).entrypoint.content, 0o755);
                const r = run("sh", [entrypoint], { encoding: "utf8" });
                assert.equal(r.status, 78, String(r.stderr));
                assert.match(String(r.stderr), /no routes at .* yet/);
                assert.ok(!fs.existsSync(path.join(dir, "state")), "nothing created");
            } finally {
                removeDir(dir);
            }
        });
    }
});

describe("template values", () => {
    test("a value with a line break is refused instead of adding config lines", () => {
        const dev = byName("dev");
        const injected: Plan = { ...dev, routes: dev.routes.map((r, i) => (i === 0 ? { ...r, backends: [{ ...r.backends[0], service: "x;\n    return 200 pwned" }] } : r)) };
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
