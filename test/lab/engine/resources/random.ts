// random:index/randomPassword:RandomPassword — every argument (keepers included) forces a new password.
import * as crypto from "node:crypto";
import { diffAllReplace, Handler } from "./common";

export const randomPassword: Handler = {
    async create(_name, i) {
        const length = Number(i.length ?? 16);
        const lower = "abcdefghijklmnopqrstuvwxyz";
        const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        const digits = "0123456789";
        const special = String(i.overrideSpecial ?? "!@#$%&*()-_=+[]{}<>:?");
        const alphabet = (i.lower === false ? "" : lower) + (i.upper === false ? "" : upper) + (i.numeric === false ? "" : digits) + (i.special === false ? "" : special);
        let result = "";
        for (let k = 0; k < length; k++) result += alphabet[crypto.randomInt(alphabet.length)];
        return { id: "none", outputs: { ...i, result } };
    },
    diff: diffAllReplace,
    async delete() {},
};
