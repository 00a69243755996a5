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
// Docker's reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest]; goes into a Dockerfile's
// FROM, `docker pull` and the service spec.
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOMAIN = "(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?";
const REPOSITORY = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const DIGEST = "[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-f]{32,}";
const IMAGE = new RegExp(`^(?=.{1,255}(?:[:@]|$))${REPOSITORY}(?::${TAG})?(?:@${DIGEST})?$`);
const IMAGE_REPOSITORY = new RegExp(`^(?=.{1,255}$)${REPOSITORY}$`);
/** A Linux interface name (dev_valid_name: 1-15 bytes, no '/', ':' or blank, not "." or ".."), in keepalived.conf and docker's --advertise-addr. */
const INTERFACE = /^(?!\.\.?$)[A-Za-z0-9_.-]{1,15}$/;
/** A registry host[:port] (a `docker login` server, no scheme or path). */
const REGISTRY_SERVER = /^(?=.{1,253}(:|$))[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$/;
/** A POSIX environment variable or Docker build-arg name. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

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
export const image = () =>
    z.string().regex(IMAGE, "must be an image reference like registry.example.com/team/app:1.2 (lower-case repository, optional :tag and @sha256:digest)");
/** An image name without tag or digest (the program appends the tag). */
export const imageRepository = () => z.string().regex(IMAGE_REPOSITORY, "must be an image name without tag, like registry.example.com/team/app (lower-case)");
export const interfaceName = () =>
    z.string().regex(INTERFACE, "must be a network interface name: 1-15 letters, digits, '.', '_' or '-' (Linux's limit), not . or ..");
export const unixUser = () => z.string().regex(UNIX_USER, "must be a user name like deploy: lower-case, digits, '_' and '-', at most 32");
export const registryServer = () => z.string().regex(REGISTRY_SERVER, "must be a registry host[:port] like registry.example.com:5000 (no scheme or path)");
export const envName = () => z.string().regex(ENV_NAME, "env names are shell identifiers: letters, digits and '_', not starting with a digit");
/** One line of printable text (a value that lands in a service spec or a label, never in a template line of its own). */
export const oneLine = (what: string) => z.string().regex(/^[^\r\n\0]*$/, `${what} must be one line`);
export const hostname = () => z.string().regex(HOSTNAME, "must be a lower-case DNS name");
export const urlPath = () => z.string().regex(URL_PATH, "a URL path like /healthz");
