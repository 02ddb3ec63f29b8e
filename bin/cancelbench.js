#!/usr/bin/env node
// Entry point. Plain JS so the version guard runs on any Node, before anything that needs a newer one.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `cancelbench needs Node.js >= 22.12 (found ${process.versions.node} at ${process.execPath}).\n` +
      'Install a current Node (https://nodejs.org) or run it through npx in a project that pins node@24.',
  )
  process.exit(2)
}

let cli
try {
  cli = await import('../dist/src/cli.js')
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist')) throw error
  // A git checkout that has not been built: Node >= 22.18 runs the TypeScript sources directly.
  cli = await import('../src/cli.ts')
}
await cli.run()
