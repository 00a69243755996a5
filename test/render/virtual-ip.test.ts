// What `keepalived -t` cannot see: consistency ACROSS the members of a VRRP group (a mismatch is a split
// brain), plus the rendering rules (BACKUP + nopreempt by default, weight 0, password handling).
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Plan, type PlanVirtualIpGroup } from "../../model";
import { renderKeepalivedConf, renderKeepalivedScripts, virtualIpArtifacts } from "../../model/virtual-ip";
import { variants, virtualIpOf } from "./helpers";

interface ParsedInstance {
    readonly name: string;
    readonly state?: string;
    readonly vrid?: string;
    readonly priority: number;
    readonly authPass?: string;
    readonly vips: string[];
    readonly unicastSrc?: string;
    readonly unicastPeers: string[];
    readonly nopreempt: boolean;
    readonly trackScripts: string[];
}

/** Just enough of keepalived's syntax to compare what matters between nodes. */
function parseInstances(conf: string): ParsedInstance[] {
    const blocks = [...conf.matchAll(/^vrrp_instance (\S+) \{\n([\s\S]*?)^\}/gm)];
    return blocks.map(([, name, body]) => {
        const value = (key: string) => new RegExp(`^\\s*${key}\\s+(\\S+)\\s*$`, "m").exec(body)?.[1];
        const list = (block: string) => {
            const m = new RegExp(`^\\s*${block} \\{\\n([\\s\\S]*?)^\\s*\\}`, "m").exec(body);
            return m ? m[1].split("\n").map((l) => l.trim()).filter(Boolean) : [];
        };
        return {
            name,
            state: value("state"),
            vrid: value("virtual_router_id"),
            priority: Number(value("priority")),
            authPass: value("auth_pass"),
            vips: list("virtual_ipaddress"),
            unicastSrc: value("unicast_src_ip"),
            unicastPeers: list("unicast_peer"),
            nopreempt: /^\s*nopreempt\s*$/m.test(body),
            trackScripts: list("track_script"),
        };
    });
}

function membersOf(group: PlanVirtualIpGroup): string[] {
    return group.members.map((m) => m.node);
}

const VRRP_VARIANTS = variants().filter((v) => v.plan.virtualIp);
const PASSWORD = "s3cr3t-x";

function renderedGroup(plan: Plan, group: PlanVirtualIpGroup) {
    return membersOf(group).map((node) => {
        const instance = parseInstances(renderKeepalivedConf(virtualIpOf(plan), node, { authPass: PASSWORD })).find((i) => i.name === group.name);
        assert.ok(instance, `${node} has no vrrp_instance ${group.name}`);
        return { node, address: plan.nodes.find((n) => n.name === node)?.address, instance };
    });
}

describe("keepalived configs agree across the members of each VRRP group", () => {
    for (const v of VRRP_VARIANTS) {
        const vrrp = v.plan.virtualIp;
        assert.ok(vrrp);
        for (const group of vrrp.groups) {
            const members = renderedGroup(v.plan, group);

            test(`${v.name}/${group.name}: every member has the same VRID, VIP and password`, () => {
                assert.deepEqual(new Set(members.map((m) => m.instance.vrid)), new Set([String(group.virtualRouterId)]));
                assert.deepEqual(new Set(members.map((m) => m.instance.vips.join("|"))), new Set([`${group.address}/${vrrp.prefix} dev ${vrrp.interface}`]));
                assert.deepEqual(new Set(members.map((m) => m.instance.authPass)), new Set([vrrp.authentication ? PASSWORD : undefined]));
            });

            test(`${v.name}/${group.name}: priorities are distinct`, () => {
                const priorities = members.map((m) => m.instance.priority);
                assert.equal(new Set(priorities).size, priorities.length, `priorities ${priorities.join(", ")}`);
                for (const p of priorities) assert.ok(p >= 1 && p <= 254, `priority ${p} outside 1-254`);
            });

            test(`${v.name}/${group.name}: each member's unicast peers are exactly all other members`, () => {
                for (const m of members) {
                    if (vrrp.transport === "multicast") {
                        assert.deepEqual(m.instance.unicastPeers, [], `${m.node} has unicast peers in multicast mode`);
                        continue;
                    }
                    const others = members.filter((o) => o.node !== m.node).map((o) => o.address);
                    assert.equal(m.instance.unicastSrc, m.address, `${m.node} unicast_src_ip`);
                    assert.deepEqual([...m.instance.unicastPeers].sort(), [...others].sort(), `${m.node} unicast_peer`);
                }
            });

            test(`${v.name}/${group.name}: every member starts as BACKUP, nopreempt unless preempt is on, and tracks the gateway`, () => {
                for (const m of members) {
                    assert.equal(m.instance.state, "BACKUP", m.node);
                    assert.equal(m.instance.nopreempt, !vrrp.preempt, `${m.node} nopreempt`);
                    assert.deepEqual(m.instance.trackScripts, ["chk_gateway"], m.node);
                }
            });
        }
    }

    test("the stacks' profiles: dev fast (VRRPv3, 0.2 s adverts, no authentication block), prod default (VRRPv2, 1 s, PASS)", () => {
        const conf = (name: string) => renderKeepalivedConf(virtualIpOf(VRRP_VARIANTS.find((v) => v.name === name)?.plan as Plan), "gw-1", { authPass: PASSWORD });
        const dev = conf("dev");
        assert.match(dev, /^\s*vrrp_version 3$/m);
        assert.match(dev, /^\s*advert_int 0\.2$/m);
        assert.match(dev, /^\s*rise 1$/m);
        assert.doesNotMatch(dev, /^\s*(authentication|auth_pass)/m);
        const prod = conf("prod");
        assert.doesNotMatch(prod, /vrrp_version/);
        assert.match(prod, /^\s*advert_int 1$/m);
        assert.match(prod, new RegExp(`^\\s*auth_pass ${PASSWORD}$`, "m"));
    });

    test("the stacks' defaults: nopreempt and BACKUP on every node of dev and prod", () => {
        for (const v of VRRP_VARIANTS.filter((x) => x.name === "dev" || x.name === "prod")) {
            for (const node of v.plan.gateway.nodes) {
                for (const i of parseInstances(renderKeepalivedConf(virtualIpOf(v.plan), node, { authPass: PASSWORD }))) {
                    assert.equal(i.state, "BACKUP", `${v.name} ${node}`);
                    assert.ok(i.nopreempt, `${v.name} ${node} nopreempt`);
                }
            }
        }
    });
});

describe("keepalived rendering rules", () => {
    // VRRPv2 with authentication (dev itself runs the fast profile, VRRPv3)
    const dev = VRRP_VARIANTS.find((v) => v.name === "dev-default-profile")?.plan;
    const v3 = VRRP_VARIANTS.find((v) => v.name === "groups-v3-multicast-preempt")?.plan;
    assert.ok(dev && v3);

    test("the gateway check has weight 0 (FAULT moves the VIP; a negative weight would not with nopreempt)", () => {
        const conf = renderKeepalivedConf(virtualIpOf(dev), "gw-1", { authPass: PASSWORD });
        const script = /vrrp_script chk_gateway \{([\s\S]*?)\}/.exec(conf)?.[1] ?? "";
        assert.match(script, /^\s*weight 0$/m);
        assert.match(script, /^\s*script "\/etc\/keepalived\/check_gateway\.sh"$/m);
        assert.match(conf, /^\s*enable_script_security$/m);
        assert.match(conf, new RegExp(`^\\s*script_user ${dev.virtualIp?.scriptUser}$`, "m"));
        assert.match(conf, /^\s*router_id gw-1$/m);
        // Transitions reach one reader, in order: no per-transition notify script (keepalived runs those concurrently).
        assert.match(conf, /^\s*vrrp_notify_fifo \/run\/keepalived\/notify\.fifo$/m);
        assert.match(conf, /^\s*vrrp_notify_fifo_script "\/etc\/keepalived\/notify\.sh"$/m);
        assert.doesNotMatch(conf, /^\s*notify(_master|_backup|_fault|_stop)? /m);
    });

    test("VRRPv3 sets vrrp_version 3, has no authentication block, and preempt_delay only with preempt", () => {
        const conf = renderKeepalivedConf(virtualIpOf(v3), "gw-1", {});
        assert.match(conf, /^\s*vrrp_version 3$/m);
        assert.doesNotMatch(conf, /^\s*(authentication|auth_pass)/m);
        assert.match(conf, /^\s*preempt_delay 5$/m);
        assert.doesNotMatch(conf, /^\s*nopreempt$/m);
        assert.match(conf, /^\s*advert_int 0\.5$/m);
        assert.doesNotMatch(renderKeepalivedConf(virtualIpOf(dev), "gw-1", { authPass: PASSWORD }), /vrrp_version|preempt_delay/);
    });

    test("with two groups a node has one vrrp_instance per group, each preferring a different node", () => {
        const masters = v3.virtualIp?.groups.map((g) => g.members[0].node);
        assert.equal(new Set(masters).size, masters?.length);
        assert.deepEqual(parseInstances(renderKeepalivedConf(virtualIpOf(v3), "gw-3", {})).map((i) => i.name), ["api", "web"], "instances in group-name order");
    });

    test("authentication without a password throws instead of rendering an empty auth_pass", () => {
        assert.throws(() => renderKeepalivedConf(virtualIpOf(dev), "gw-1", {}), /no password/);
        assert.throws(() => renderKeepalivedConf(virtualIpOf(dev), "gw-1", { authPass: "" }), /no password/);
    });

    test("a password keepalived would cut or misparse throws (more than 8 characters, blanks, '#', '!', quotes)", () => {
        for (const bad of ["123456789", "ab cd", "ab#cd", "ab!cd", 'ab"cd', "ab\\cd", "zażółć"]) {
            assert.throws(() => renderKeepalivedConf(virtualIpOf(dev), "gw-1", { authPass: bad }), /1-8 printable/, JSON.stringify(bad));
        }
        assert.match(renderKeepalivedConf(virtualIpOf(dev), "gw-1", { authPass: "Ab3$%&*+" }), /^\s*auth_pass Ab3\$%&\*\+$/m);
    });

    test("a node in no VRRP group throws, naming the members", () => {
        assert.throws(() => renderKeepalivedConf(virtualIpOf(dev), "manager-1", { authPass: PASSWORD }), /"manager-1" is in no VRRP group \(members: gw-1, gw-2\)/);
    });

    test("a plan without a virtual IP renders no keepalived files", () => {
        assert.deepEqual(virtualIpArtifacts(undefined), []);
    });

    test("the check script fails while draining, else curls the health URL with the check timeout", () => {
        const { check } = renderKeepalivedScripts(virtualIpOf(dev));
        assert.match(check, new RegExp(`if \\[ -e '${dev.gateway.stateDir}/draining' \\]; then\\n\\s+exit 1`));
        const hc = dev.virtualIp?.healthCheck;
        assert.match(check, new RegExp(`curl -fsS --max-time ${hc?.timeout} -o /dev/null --unix-socket '${hc?.socket}' '${hc?.url}'`));
        assert.equal(hc?.socket, dev.gateway.healthSocket, "keepalived asks the socket the gateway listens on");
    });
});
