/** Types for runtime-flags.js (plain JS, so it runs before the Node version guard has passed). */
export declare const RUNTIME_FLAGS: Readonly<Record<'provider' | 'run' | 'demo', readonly string[]>>
export declare function missingFlags(flags: readonly string[], execArgv: readonly string[]): string[]
export declare function reexecWith(flags: readonly string[]): void
