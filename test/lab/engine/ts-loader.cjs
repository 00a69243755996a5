// The lab engine's TypeScript loader: `node --require ./test/lab/engine/ts-loader.cjs`. Like the Pulumi Node.js
// language host's ts-node (transpile only), it hooks `.ts` files alone; tsx/cjs hooked every require and doubled the
// time the SDK takes to load (about 0.7 s of a no-op up). esbuild (tsx's own transpiler) strips the types; its output
// is kept per file content in the temp dir, so a run whose sources did not change never starts esbuild's service.
// Stack traces point into the output; run node with --enable-source-maps to map them back (it slows every resource).
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const CACHE_DIR = path.join(os.tmpdir(), "swarm-platform-ts-cache");
const TARGET = `node${process.versions.node.split(".")[0]}`;
let esbuild;

function transpile(source, filename) {
    const key = crypto.createHash("sha256").update(`${TARGET}\0${filename}\0${source}`).digest("hex");
    const cached = path.join(CACHE_DIR, `${key}.js`);
    try {
        return fs.readFileSync(cached, "utf8");
    } catch {
        // not transpiled yet
    }
    esbuild ??= require("esbuild");
    const { code } = esbuild.transformSync(source, { loader: "ts", format: "cjs", target: TARGET, sourcemap: "inline", sourcefile: filename });
    try {
        fs.mkdirSync(CACHE_DIR, { recursive: true });
        const tmp = `${cached}.${process.pid}`;
        fs.writeFileSync(tmp, code);
        fs.renameSync(tmp, cached); // atomic: concurrent runs never read half a file
    } catch {
        // a cache that cannot be written only costs the next run the transpile
    }
    return code;
}

require.extensions[".ts"] = function compileTypeScript(module, filename) {
    module._compile(transpile(fs.readFileSync(filename, "utf8"), filename), filename);
};
