#!/usr/bin/env node
// Entry point. Plain JS so the version guard runs on any Node, before anything that needs a newer one.
import { existsSync } from 'node:fs'
import { reexecWith, RUNTIME_FLAGS } from './runtime-flags.js'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `cancelbench needs Node.js >= 22.12 (found ${process.versions.node} at ${process.execPath}).\n` +
      'Install a current Node (https://nodejs.org) or run it through npx in a project that pins node@24.',
  )
  process.exit(2)
}

// Commands that carry load run with the GC settings measured for them (see runtime-flags.js).
const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'))
if (command && Object.hasOwn(RUNTIME_FLAGS, command)) reexecWith(RUNTIME_FLAGS[command])

// The published package ships compiled JS in dist/ and no src/. In a git checkout src/ is the truth
// (dist/ may be stale), and Node 24 runs it directly; CANCELBENCH_USE_DIST=1 forces the compiled build.
const fromSource =
  process.env.CANCELBENCH_USE_DIST !== '1' && process.features.typescript && existsSync(new URL('../src/cli.ts', import.meta.url))
const cli = await import(fromSource ? '../src/cli.ts' : '../dist/src/cli.js')
await cli.run()
