// The one import point of the linearizability checker for the simulator (see lin-fallback.ts).
export { checkLinearizable } from './lin-fallback.js'
export type { CheckResult, HistoryOp, Model } from './lin-fallback.js'
