// Field types shared by the concepts' schema fragments: each pattern is what the consuming tool accepts.
import { z } from "zod";
import { isCidr, isIpv4 } from "./net";

/** A DNS name, optionally a leading `*.` wildcard (what nginx and HAProxy accept as a server name). */
export const HOSTNAME = /^(?=.{1,253}$)(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
export const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
/** Goes into nginx, HAProxy, a Dockerfile and a shell script: URL path characters only. */
export const URL_PATH = /^\/[A-Za-z0-9._~/-]*$/;
const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const LABEL_KEY = /^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$/;
const IMAGE = /^[a-z0-9][a-z0-9._/:@-]*$/;

// The checks are net.ts's; the meta only tells the JSON Schema (editors) what the strings are.
const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
export const ipv4 = () =>
    z.string().refine(isIpv4, { message: "must be an IPv4 address like 10.0.0.1" }).meta({ title: "IPv4 address", format: "ipv4" });
export const cidr = () =>
    z
        .string()
        .refine(isCidr, { message: "must be an IPv4 network like 10.0.0.0/24 (no host bits set)" })
        .meta({ title: "IPv4 network (CIDR)", pattern: `^(${OCTET}\\.){3}${OCTET}/(3[0-2]|[12]?\\d)$` });
export const port = () => z.number().int().min(1, "must be a port 1-65535").max(65535, "must be a port 1-65535");
export const seconds = (min = 0) => z.number().min(min).max(86400);
export const name = (what: string) =>
    z.string().max(63, `${what} must be at most 63 characters`).regex(NAME, `${what} must be lower-case letters, digits and '-' (DNS-safe)`);
/** The name of another config key that holds a secret (`pulumi config set --secret <name> …`). */
export const secretRef = () => z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]*$/, "must name a secret config key");
export const labels = () =>
    z
        .record(
            z.string().regex(LABEL_KEY, "label keys are letters, digits, '.', '_' and '-'"),
            z.string().regex(/^[^\r\n]*$/, "label values are one line"),
        )
        .default({});
export const image = () => z.string().regex(IMAGE, "must be a lower-case image reference like registry.example.com/team/app");
export const hostname = () => z.string().regex(HOSTNAME, "must be a lower-case DNS name");
export const urlPath = () => z.string().regex(URL_PATH, "a URL path like /healthz");
