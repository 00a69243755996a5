// mermaid-cli's puppeteer must never download a browser (CI and offline machines): it uses Debian's chromium.
module.exports = { skipDownload: true };
