// npm run bench:plan [-- --runs 21]
// Times validate → plan → render on a generated large stack: 100 nodes (3 managers, 4 gateway nodes, 4 zones),
// 50 apps × 3 releases with hostnames, one VIP. Prints the median (and min/max) of N runs in ms. No assertions.
import { performance } from "node:perf_hooks";
import { parseConfig, planStack, renderAll, type StackConfigInput } from "../model";

const NODES = 100;
const MANAGERS = 3;
const GATEWAYS = 4;
const ZONES = ["dmz", "intra", "batch", "data"];
const APPS = 50;
const RELEASES = 3;

/** 10.0.1.10 … 10.0.1.109 on one LAN; the VIP is 10.0.1.250. */
export function benchConfig(): StackConfigInput {
    const nodes = Array.from({ length: NODES }, (_, i) => {
        const role = i < MANAGERS ? ("manager" as const) : ("worker" as const);
        const gateway = i >= MANAGERS && i < MANAGERS + GATEWAYS;
        return {
            name: role === "manager" ? `manager-${i + 1}` : gateway ? `gw-${i - MANAGERS + 1}` : `node-${i + 1}`,
            role,
            zone: gateway ? "dmz" : ZONES[i % ZONES.length],
            address: `10.0.1.${10 + i}`,
            ...(gateway ? { gateway: true } : {}),
            labels: { rack: `r${i % 8}` },
        };
    });
    const apps = Array.from({ length: APPS }, (_, a) => ({
        name: `app${a}`,
        zone: ZONES[a % ZONES.length],
        image: `registry.example.com/team/app${a}`,
        replicas: 2 + (a % 3),
        env: { APP: `app${a}` },
        releases: Array.from({ length: RELEASES }, (_, r) => ({
            name: `1.${r}`,
            // Every release has its own hostname; the newest also serves the app's main hostname.
            hostnames: [`v1-${r}.app${a}.example.com`, ...(r === RELEASES - 1 ? [`app${a}.example.com`] : [])],
            env: { RELEASE: `1.${r}` },
        })),
    }));
    return {
        driver: "ssh",
        drivers: { ssh: { user: "deploy", sudo: true } },
        nodes,
        swarm: { managerAvailability: "drain", defaultAddrPool: ["10.128.0.0/14"] },
        networks: {
            zones: Object.fromEntries(ZONES.map((z) => [z, { encrypted: true }])),
            gateway: { name: "gateway", encrypted: true },
        },
        virtualIp: { address: "10.0.1.250", virtualRouterId: 51 },
        gateway: {
            engine: "nginx",
            tls: [{ name: "apps", hostnames: Array.from({ length: APPS }, (_, a) => `app${a}.example.com`), certificateSecret: "tlsCert", keySecret: "tlsKey" }],
        },
        apps,
    };
}

function median(xs: readonly number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function time<T>(fn: () => T): [T, number] {
    const start = performance.now();
    const value = fn();
    return [value, performance.now() - start];
}

function main(argv: readonly string[]): void {
    const runsArg = argv.indexOf("--runs");
    const runs = runsArg >= 0 ? Math.max(1, Number(argv[runsArg + 1]) || 21) : 21;
    const raw = benchConfig();

    // Warm-up (JIT, template loading) outside the measured runs.
    const warm = planStack(parseConfig(raw));
    renderAll(warm);

    const figures = { validate: [] as number[], plan: [] as number[], render: [] as number[], total: [] as number[] };
    let artifacts = 0;
    for (let i = 0; i < runs; i++) {
        const [config, tValidate] = time(() => parseConfig(raw));
        const [plan, tPlan] = time(() => planStack(config));
        const [out, tRender] = time(() => renderAll(plan));
        artifacts = out.length;
        figures.validate.push(tValidate);
        figures.plan.push(tPlan);
        figures.render.push(tRender);
        figures.total.push(tValidate + tPlan + tRender);
    }

    const nodes = raw.nodes?.length ?? 0;
    const releases = warm.releases.length;
    console.log(`bench:plan  ${nodes} nodes (${MANAGERS} managers, ${GATEWAYS} gateways, ${ZONES.length} zones), ${APPS} apps × ${RELEASES} releases = ${releases} services, ${warm.routes.length} routes, ${warm.dns.records.length} DNS records`);
    console.log(`            node ${process.version}, ${runs} runs after one warm-up; ms`);
    console.log("");
    console.log("step        median      min      max");
    const row = (label: string, xs: readonly number[]) =>
        console.log(`${label.padEnd(10)} ${median(xs).toFixed(2).padStart(7)} ${Math.min(...xs).toFixed(2).padStart(8)} ${Math.max(...xs).toFixed(2).padStart(8)}`);
    row("validate", figures.validate);
    row("plan", figures.plan);
    row("render", figures.render);
    row("total", figures.total);
    console.log(`\nrender produced ${artifacts} artifacts`);
}

if (require.main === module) main(process.argv.slice(2));
