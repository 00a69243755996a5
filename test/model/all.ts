// Every model unit test in one process: what mutation testing runs once per mutant (see stryker.config.json and
// docs/mutation-testing.md). `node --import tsx --test test/model/*.test.ts` runs the same tests, one process per
// file. The order only matters for speed: with the bail reporter, a mutant dies at its first failing test, so the
// concepts' quick tables come first and the generated-config properties last.
import "./nodes.test";
import "./swarm.test";
import "./networks.test";
import "./virtual-ip.test";
import "./gateway.test";
import "./releases.test";
import "./dns.test";
import "./diagram.test";
import "./firewall.test";
import "./promote.test";
import "./diff.test";
import "./status.test";
import "./config.test";
import "./properties.test";
