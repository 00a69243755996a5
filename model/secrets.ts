// Which secret config keys a stack needs, and where each is referenced: checked before any resource exists.
import type { StackConfig } from "./schema";

export interface SecretRef {
    /** The config key path that names the secret, e.g. `gateway.tls[0].keySecret`. */
    readonly path: string;
    /** The secret config key itself, e.g. `tlsSklepKey`. */
    readonly key: string;
}

export function secretRefsOf(c: StackConfig): SecretRef[] {
    const refs: SecretRef[] = [];
    if (c.nodes.some((n) => (n.driver ?? c.driver) === "ssh")) {
        refs.push({ path: "drivers.ssh.privateKeySecret", key: c.drivers.ssh.privateKeySecret });
    }
    c.gateway.tls.forEach((t, i) => {
        refs.push({ path: `gateway.tls[${i}].certificateSecret`, key: t.certificateSecret });
        refs.push({ path: `gateway.tls[${i}].keySecret`, key: t.keySecret });
    });
    if (c.virtualIp?.passwordSecret) refs.push({ path: "virtualIp.passwordSecret", key: c.virtualIp.passwordSecret });
    if (c.gateway.delivery === "registry" && c.gateway.registry) {
        refs.push({ path: "gateway.registry.passwordSecret", key: c.gateway.registry.passwordSecret });
    }
    return refs;
}
