import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * A full garbage collection on demand, without `--expose-gc` on the command line: V8 accepts the flag at
 * run time, and a fresh context then has the `gc` function. Used by the benches between load levels (so a
 * level does not collect the previous one's heap in its own window) and by a test that proves a
 * disconnect still arrives after the objects it no longer needs are collected.
 */
export const fullGc: () => void = (() => {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
})()
