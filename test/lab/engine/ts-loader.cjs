// The lab engine's TypeScript loader: `node --require ./test/lab/engine/ts-loader.cjs`. Like the Pulumi Node.js
// language host's ts-node (transpile only), it hooks `.ts` files alone; tsx/cjs hooked every require and doubled the
// time the SDK takes to load (about 0.7 s of a no-op up). esbuild (tsx's own transpiler) strips the types.
"use strict";
const fs = require("node:fs");
const esbuild = require("esbuild");

require.extensions[".ts"] = function compileTypeScript(module, filename) {
    const { code } = esbuild.transformSync(fs.readFileSync(filename, "utf8"), {
        loader: "ts",
        format: "cjs",
        target: `node${process.versions.node.split(".")[0]}`,
        sourcemap: "inline",
        sourcefile: filename,
    });
    module._compile(code, filename);
};
