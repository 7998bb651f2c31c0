// The one import point of the linearizability checker for the simulator.
export { checkLinearizable } from './linearizability.js'
export type { CheckResult, HistoryOp, Model } from './linearizability.js'
