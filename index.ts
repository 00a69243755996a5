// The program: this stack's config → validated config → plan → platform components → outputs (DNS is fed from these).
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { Platform } from "./components/platform";
import { planStack } from "./stacks/plan";
import { readRuntimeConfig } from "./stacks/runtime-config";

const project = pulumi.getProject();
const stack = pulumi.getStack();
const { config, secrets } = readRuntimeConfig(project);
const plan = planStack(config);

const platform = new Platform("platform", {
    plan,
    namePrefix: `${project}-${stack}`,
    projectDir: __dirname,
    buildDir: process.env.SWARM_PLATFORM_BUILD_DIR ?? path.join(__dirname, ".build", stack),
    secrets,
});

export const vip = plan.vrrp?.groups[0]?.address;
export const vips = plan.vrrp?.groups.map((g) => g.address) ?? [];
export const nodes = plan.nodes.map((n) => ({ name: n.name, address: n.address, role: n.role, zone: n.zone, labels: n.labels }));
export const managerHost = platform.managerHost;
export const dockerCli = `DOCKER_HOST=${platform.managerHost} docker node ls`;
export const routes = plan.routes.map((r) => ({ hostname: r.hostname, app: r.app, release: r.release, service: r.service }));
export const dnsRecords = plan.dns;
export const zoneFile = platform.zoneFile;
export const joinTokens = platform.swarm.joinTokens;
export const gatewayImage = platform.gateway.image;
