// templates/images/image-deliver.sh run for real against a stand-in `docker` (a local engine and node engines kept
// in files): an image's bytes are saved once, shipped once per node, two tags of one image ship once, a node that
// holds the image only gets the tag, and concurrent deliveries to one node queue on its lock.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, beforeEach, describe, test } from "node:test";
import { renderNodeScript } from "../../model/scripts";
import { needTools, removeDir, run, tempDir, writeFile } from "./helpers";

const ID_SHOP = `sha256:${"a".repeat(64)}`;
const ID_STOCK = `sha256:${"b".repeat(64)}`;

// The stand-in: `docker image inspect|save` on the local engine, and `docker exec -i <container> <command>`, which
// runs the command with this same stand-in as the node's docker (image inspect|load|tag on that node's engine).
// Every call that moves bytes or changes a node is appended to $STATE/log (`load-file`: from a file the node sees, the
// inbox), and every `docker exec` to $STATE/sessions; loads take a moment so concurrent steps really overlap.
const FAKE_DOCKER = `#!/usr/bin/env bash
set -euo pipefail
key() { printf %s "$1" | md5sum | cut -c1-32; }
if [[ $1 == exec ]]; then
    [[ $2 == -i ]] || exit 2
    [[ -d $STATE/nodes/$3 ]] || { echo "Error: No such container: $3" >&2; exit 1; }
    echo "exec $3" >>"$STATE/sessions"
    export FAKE_NODE=$3; shift 3
    exec "$@"
fi
engine=$STATE/local
[[ -z \${FAKE_NODE:-} ]] || engine=$STATE/nodes/$FAKE_NODE
where=$(basename "$engine")
case $1 in
    image)
        [[ $2 == inspect ]] || exit 2
        ref=\${@: -1}
        if [[ -f $engine/ids/$(key "$ref") ]]; then cat "$engine/ids/$(key "$ref")"; elif [[ -f $engine/tags/$(key "$ref") ]]; then cat "$engine/tags/$(key "$ref")"; else echo "Error: No such image: $ref" >&2; exit 1; fi ;;
    save)
        [[ $3 == -o ]] || exit 2
        echo "save $2" >>"$STATE/log"
        printf 'bytes:%s' "$2" >"$4" ;;
    load)
        how=load
        if [[ \${3:-} == -i ]]; then bytes=$(cat "$4"); how=load-file; else bytes=$(cat); fi
        [[ -z \${FAKE_LOAD_FAILS:-} ]] || { echo "Error: unexpected EOF" >&2; exit 1; }
        id=\${bytes#bytes:}
        sleep 0.3
        mkdir -p "$engine/ids"; printf '%s\\n' "$id" >"$engine/ids/$(key "$id")"
        echo "$how $where $id" >>"$STATE/log" ;;
    tag)
        mkdir -p "$engine/tags"; printf '%s\\n' "$2" >"$engine/tags/$(key "$3")"
        echo "tag $where $3" >>"$STATE/log" ;;
    *) exit 2 ;;
esac
`;

const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

describe("image-deliver: each image's bytes once per node", () => {
    let work = "";
    const state = () => path.join(work, "state");
    const log = () => (fs.existsSync(path.join(state(), "log")) ? fs.readFileSync(path.join(state(), "log"), "utf8").trim().split("\n") : []);
    const sessions = () => (fs.existsSync(path.join(state(), "sessions")) ? fs.readFileSync(path.join(state(), "sessions"), "utf8").trim().split("\n") : []);
    const env = () => ({ PATH: `${path.join(work, "bin")}:${process.env.PATH}`, STATE: state() });
    const payload = (node: string, image: string) =>
        renderNodeScript("image-deliver", { node, env: { IMAGE: image, CACHE_DIR: path.join(work, "cache"), NODE_KEY: `stack-${node}`, CONTAINER: `stack-${node}` } });
    const deliver = (node: string, image: string) => run("bash", ["-s"], { input: payload(node, image), env: env(), encoding: "utf8" });
    const deliverAsync = (node: string, image: string) =>
        new Promise<{ status: number | null; stdout: string }>((resolve) => {
            const child = spawn("bash", ["-s"], { env: env() });
            let stdout = "";
            child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
            child.on("close", (status) => resolve({ status, stdout }));
            child.stdin.end(payload(node, image));
        });
    const localImage = (ref: string, id: string) => writeFile(path.join(state(), "local", "tags", run("bash", ["-c", `printf %s "$1" | md5sum | cut -c1-32`, "_", ref], { encoding: "utf8" }).stdout.trim()), `${id}\n`);

    beforeEach(() => {
        work = tempDir("image-deliver");
        dirs.push(work);
        writeFile(path.join(work, "bin", "docker"), FAKE_DOCKER, 0o755);
        for (const node of ["gw-1", "gw-2"]) fs.mkdirSync(path.join(state(), "nodes", `stack-${node}`), { recursive: true });
        localImage("demo/app:1.9", ID_SHOP);
        localImage("demo/app:2.0", ID_SHOP); // the same image under a second tag
        localImage("demo/stock:1.0", ID_STOCK);
    });

    test("saved once, loaded once per node, then tagged; a second tag of the same image only tags", (t) => {
        if (!needTools(t, "bash", "flock", "md5sum")) return;
        const first = deliver("gw-1", "demo/app:1.9");
        assert.equal(first.status, 0, String(first.stderr));
        assert.equal(String(first.stdout).trim(), `image-deliver: loaded ${ID_SHOP} demo/app:1.9`);
        const second = deliver("gw-1", "demo/app:2.0");
        assert.equal(second.status, 0, String(second.stderr));
        assert.equal(String(second.stdout).trim(), `image-deliver: present ${ID_SHOP} demo/app:2.0`);
        const other = deliver("gw-2", "demo/app:2.0");
        assert.equal(other.status, 0, String(other.stderr));
        assert.deepEqual(log(), [
            `save ${ID_SHOP}`,
            `load stack-gw-1 ${ID_SHOP}`,
            "tag stack-gw-1 demo/app:1.9",
            "tag stack-gw-1 demo/app:2.0",
            `load stack-gw-2 ${ID_SHOP}`, // from the saved file: no second save
            "tag stack-gw-2 demo/app:2.0",
        ]);
        assert.ok(fs.existsSync(path.join(work, "cache", `${"a".repeat(64)}.tar`)), "the saved image is kept for the next node");
        // One command on the node to find the image and tag it; one more to load, check and tag when it is missing.
        assert.deepEqual(sessions(), ["exec stack-gw-1", "exec stack-gw-1", "exec stack-gw-1", "exec stack-gw-2", "exec stack-gw-2"]);
    });

    test("concurrent deliveries of two tags of one image to one node ship it once; other nodes and images go in parallel", async (t) => {
        if (!needTools(t, "bash", "flock", "md5sum")) return;
        const results = await Promise.all([
            deliverAsync("gw-1", "demo/app:1.9"),
            deliverAsync("gw-1", "demo/app:2.0"),
            deliverAsync("gw-2", "demo/app:1.9"),
            deliverAsync("gw-2", "demo/app:2.0"),
            deliverAsync("gw-1", "demo/stock:1.0"),
        ]);
        for (const r of results) assert.equal(r.status, 0, r.stdout);
        const lines = log();
        assert.equal(lines.filter((l) => l === `save ${ID_SHOP}`).length, 1, lines.join("\n"));
        assert.equal(lines.filter((l) => l === `save ${ID_STOCK}`).length, 1, lines.join("\n"));
        for (const node of ["stack-gw-1", "stack-gw-2"]) {
            assert.equal(lines.filter((l) => l === `load ${node} ${ID_SHOP}`).length, 1, `${node}: the shared image loaded once\n${lines.join("\n")}`);
            for (const tag of ["demo/app:1.9", "demo/app:2.0"]) assert.ok(lines.includes(`tag ${node} ${tag}`), `${node} has ${tag}`);
        }
        assert.equal(results.filter((r) => r.stdout.includes("present")).length, 2, "the second tag on each node found the image there");
    });

    test("SAVE_ONLY saves the image once into the cache, touches no node, and the loads after it ship from that file", (t) => {
        if (!needTools(t, "bash", "flock", "md5sum")) return;
        const save = () => run("bash", ["-s"], {
            input: renderNodeScript("image-deliver", { node: "pulumi-host", env: { IMAGE: "demo/app:1.9", CACHE_DIR: path.join(work, "cache"), SAVE_ONLY: "true" } }),
            env: env(),
            encoding: "utf8",
        });
        const first = save();
        assert.equal(first.status, 0, String(first.stderr));
        assert.equal(String(first.stdout).trim(), `image-deliver: saved ${ID_SHOP} demo/app:1.9`);
        assert.equal(save().status, 0);
        assert.deepEqual(log(), [`save ${ID_SHOP}`], "saved once, no node touched");
        assert.ok(fs.existsSync(path.join(work, "cache", `${"a".repeat(64)}.tar`)));
        assert.equal(deliver("gw-1", "demo/app:2.0").status, 0);
        assert.deepEqual(log(), [`save ${ID_SHOP}`, `load stack-gw-1 ${ID_SHOP}`, "tag stack-gw-1 demo/app:2.0"], "the load used the saved file");
    });

    describe("driver docker: the node's inbox", () => {
        const inbox = (node: string) => path.join(work, "cache", "inbox", `stack-${node}`);
        // mount: where the node sees its inbox (the stand-in's node runs here, so the same path is "mounted")
        const deliverInbox = (node: string, image: string, mount: string, extra: Record<string, string> = {}) =>
            run("bash", ["-s"], {
                input: renderNodeScript("image-deliver", {
                    node,
                    env: { IMAGE: image, CACHE_DIR: path.join(work, "cache"), NODE_KEY: `stack-${node}`, CONTAINER: `stack-${node}`, INBOX: inbox(node), INBOX_MOUNT: mount },
                }),
                env: { ...env(), ...extra },
                encoding: "utf8",
            });
        const linksIn = (node: string) => (fs.existsSync(inbox(node)) ? fs.readdirSync(inbox(node)) : []);

        test("a node that sees its inbox loads the saved file from there, once; the link goes after the load", (t) => {
            if (!needTools(t, "bash", "flock", "md5sum")) return;
            // a link a killed run left behind is cleared first
            writeFile(path.join(inbox("gw-1"), `${"f".repeat(64)}.tar`), "stale");
            const r = deliverInbox("gw-1", "demo/app:1.9", inbox("gw-1"));
            assert.equal(r.status, 0, String(r.stderr));
            assert.equal(String(r.stdout).trim(), `image-deliver: loaded ${ID_SHOP} demo/app:1.9`);
            assert.equal(deliverInbox("gw-1", "demo/app:2.0", inbox("gw-1")).status, 0);
            assert.deepEqual(log(), [`save ${ID_SHOP}`, `load-file stack-gw-1 ${ID_SHOP}`, "tag stack-gw-1 demo/app:1.9", "tag stack-gw-1 demo/app:2.0"]);
            assert.deepEqual(linksIn("gw-1"), [], "no link is left in the inbox");
            assert.ok(fs.existsSync(path.join(work, "cache", `${"a".repeat(64)}.tar`)), "the saved image stays in the cache");
            assert.doesNotMatch(String(r.stderr), /streaming/);
        });

        test("a node that does not see its inbox (a container made before it) is streamed the bytes, and says so", (t) => {
            if (!needTools(t, "bash", "flock", "md5sum")) return;
            const r = deliverInbox("gw-2", "demo/app:1.9", path.join(work, "not-mounted"));
            assert.equal(r.status, 0, String(r.stderr));
            assert.deepEqual(log(), [`save ${ID_SHOP}`, `load stack-gw-2 ${ID_SHOP}`, "tag stack-gw-2 demo/app:1.9"]);
            assert.match(String(r.stderr), /image-deliver \(gw-2\): the node does not see its inbox; streaming the image/);
            assert.deepEqual(linksIn("gw-2"), []);
        });

        test("a load from the inbox that fails fails the step, naming the node, and leaves no link", (t) => {
            if (!needTools(t, "bash", "flock", "md5sum")) return;
            const r = deliverInbox("gw-1", "demo/app:1.9", inbox("gw-1"), { FAKE_LOAD_FAILS: "1" });
            assert.notEqual(r.status, 0);
            assert.match(String(r.stderr), /unexpected EOF/);
            assert.match(String(r.stderr), /image-deliver \(gw-1\): ERROR: loading demo\/app:1\.9 into the node failed \(exit 1\)/);
            assert.deepEqual(linksIn("gw-1"), []);
        });
    });

    test("a node whose engine cannot be asked fails, naming the node and docker's error, and ships nothing", (t) => {
        if (!needTools(t, "bash", "flock", "md5sum")) return;
        fs.rmSync(path.join(state(), "nodes", "stack-gw-2"), { recursive: true });
        const r = deliver("gw-2", "demo/app:2.0");
        assert.notEqual(r.status, 0);
        assert.match(String(r.stderr), /No such container: stack-gw-2/);
        assert.match(String(r.stderr), /image-deliver \(gw-2\): ERROR: could not ask the node's engine for sha256:a{64} \(exit 1\)/);
        assert.deepEqual(log(), []);
    });

    test("an image the local engine does not have fails, naming it, and ships nothing", (t) => {
        if (!needTools(t, "bash", "flock", "md5sum")) return;
        const r = deliver("gw-1", "demo/missing:1.0");
        assert.notEqual(r.status, 0);
        assert.match(String(r.stderr), /demo\/missing:1\.0 is not on the local engine/);
        assert.deepEqual(log(), []);
    });
});
