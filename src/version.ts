import { readFileSync } from 'node:fs'

/** The package version; this file sits one level deeper in dist/ (dist/src/) than in the sources (src/). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL(import.meta.url.includes('/dist/') ? '../../package.json' : '../package.json', import.meta.url), 'utf8')) as { version: string }
).version
