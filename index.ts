// The program: this stack's config → validated config → plan → platform components → outputs (DNS is fed from these).
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { assertManagerQuorum } from "./components/manager-quorum";
import { Platform } from "./components/platform";
import { planStack } from "./model";
import { readRuntimeConfig } from "./model/runtime-config";

const project = pulumi.getProject();
const stack = pulumi.getStack();
const { config, secrets } = readRuntimeConfig(project);
const plan = planStack(config);
// A read of the live swarm's managers, before any resource: a lost quorum, or a change that would lose it, stops here.
// It also lists the swarm's networks, so that a network's late read-back never replaces it (components/networks.ts).
const { swarmExists, liveNetworks } = assertManagerQuorum(plan, `${project}-${stack}`);

// The local engine, named explicitly so that DOCKER_HOST never decides where nodes and images go. Stacks deployed
// before it existed used the default docker provider: the alias adopts that provider without replacing anything.
const dockerVersion = (JSON.parse(fs.readFileSync(require.resolve("@pulumi/docker/package.json"), "utf8")) as { version: string }).version;
const localEngine = new docker.Provider("local-engine", { host: plan.driver.localEngine }, {
    aliases: [`urn:pulumi:${stack}::${project}::pulumi:providers:docker::default_${dockerVersion.replace(/\./g, "_")}`],
});

const platform = new Platform("platform", {
    plan,
    namePrefix: `${project}-${stack}`,
    projectDir: __dirname,
    buildDir: process.env.SWARM_PLATFORM_BUILD_DIR ?? path.join(__dirname, ".build", stack),
    secrets,
    swarmExists,
    ...(liveNetworks ? { liveNetworks } : {}),
}, { providers: { docker: localEngine } });

export const virtualIp = plan.virtualIp?.groups[0]?.address;
export const virtualIps = plan.virtualIp?.groups.map((g) => g.address) ?? [];
export const nodes = plan.nodes.map((n) => ({ name: n.name, address: n.address, role: n.role, zone: n.zone, labels: n.labels }));
export const managerHost = platform.managerHost;
export const dockerCli = platform.managerCli;
export const routes = plan.routes.map((r) => ({
    hostname: r.hostname,
    app: r.app,
    releases: r.backends.map((b) => ({ release: b.release, service: b.service, weight: b.weight, percent: b.percent, pinnable: b.pinnable })),
}));
export const dnsRecords = platform.dns.records;
export const zoneFile = platform.dns.zoneFile;
export const gatewayImage = platform.gateway.image;
