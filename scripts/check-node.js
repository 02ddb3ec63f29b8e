// Fails fast, with a fix, when npm scripts run on a Node older than the project needs.
// vitest 5, msw 3 and commander 15 need Node >= 22.12, and msw 3 only passes a consumer's cancel to a
// mocked stream on Node 24; the `node@24` devDependency makes npm scripts run on Node 24 once installed.
const [major, minor] = process.versions.node.split('.').map(Number);
const wantMajor = 24;
if (major < wantMajor) {
  console.error(
    `cancelbench: this script needs Node ${wantMajor} but is running on Node ${process.versions.node}.\n` +
      `  The project pins Node 24 as a devDependency; run it through npm so node_modules/.bin/node is used:\n` +
      `    npm install     (installs node@24 into node_modules)\n` +
      `    npm test        (not: vitest run / node directly)\n` +
      `  Found: ${process.execPath}`,
  );
  process.exit(2);
}
void minor;
