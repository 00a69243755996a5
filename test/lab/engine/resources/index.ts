// The resource types the lab engine performs, by type token. Rules: docs/provider-rules.md.
import { Handler } from "./common";
import { command } from "./command";
import { container } from "./container";
import { image } from "./image";
import { network } from "./network";
import { provider } from "./provider";
import { randomPassword } from "./random";
import { remoteCommand } from "./remote-command";
import { secret } from "./secret";
import { service } from "./service";
import { volume } from "./volume";

export * from "./common";

export const HANDLERS: Record<string, Handler> = {
    "pulumi:providers:docker": provider,
    "docker:index/network:Network": network,
    "docker:index/volume:Volume": volume,
    "docker:index/image:Image": image,
    "docker:index/container:Container": container,
    "docker:index/service:Service": service,
    "docker:index/secret:Secret": secret,
    "command:local:Command": command,
    "command:remote:Command": remoteCommand,
    "random:index/randomPassword:RandomPassword": randomPassword,
};
