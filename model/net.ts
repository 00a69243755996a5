// IPv4 helpers for validation and planning. Pure functions, no dependencies.

export interface Cidr {
    readonly network: number; // first address, as an unsigned 32-bit number
    readonly prefix: number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
    return IPV4.test(text);
}

export function ipToInt(ip: string): number {
    if (!isIpv4(ip)) throw new Error(`not an IPv4 address: "${ip}"`);
    return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIp(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** Parses "a.b.c.d/p"; the address must be the network address itself (no host bits). */
export function parseCidr(text: string): Cidr | undefined {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
    if (!m || !isIpv4(m[1])) return undefined;
    const prefix = Number(m[2]);
    if (prefix > 32) return undefined;
    const addr = ipToInt(m[1]);
    if (addr % blockSize(prefix) !== 0) return undefined;
    return { network: addr, prefix };
}

export function isCidr(text: string): boolean {
    return parseCidr(text) !== undefined;
}

function blockSize(prefix: number): number {
    return 2 ** (32 - prefix);
}

/** The network that contains `ip` at the given prefix length. */
export function cidrOf(ip: string, prefix: number): Cidr {
    const addr = ipToInt(ip);
    return { network: addr - (addr % blockSize(prefix)), prefix };
}

export function cidrToString(c: Cidr): string {
    return `${intToIp(c.network)}/${c.prefix}`;
}

export function contains(c: Cidr, ip: string): boolean {
    const addr = ipToInt(ip);
    return addr >= c.network && addr < c.network + blockSize(c.prefix);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
    const aEnd = a.network + blockSize(a.prefix);
    const bEnd = b.network + blockSize(b.prefix);
    return a.network < bEnd && b.network < aEnd;
}

/** Network and broadcast addresses of a subnet (both unusable as host addresses for prefixes < 31). */
export function reservedAddresses(c: Cidr): string[] {
    if (c.prefix >= 31) return [];
    return [intToIp(c.network), intToIp(c.network + blockSize(c.prefix) - 1)];
}
