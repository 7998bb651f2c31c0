// Runs a sequence of steps that may each complete now or later, written once as a generator.
//
// The Raft host loop persists before it sends. MemoryStorage (the simulator's disk) writes synchronously, and the
// simulator must stay synchronous: a run is a pure function of its seed, and a microtask between two steps would be
// a second scheduler beside its event queue. LevelStorage (the daemon's disk) returns promises. Rather than write the
// loop twice, or make the simulator asynchronous, the loop is a generator that yields what each step returns:
// `runSteps` keeps going synchronously while the yielded values are not promises, and switches to awaiting from the
// first promise on. A synchronous sequence therefore runs exactly as straight-line code would.

/** What one step returns: nothing when it completed, a promise when it completes later. */
export type Step = void | Promise<void>

export type Steps = Generator<Step, void, void>

function isPromise (value: Step): value is Promise<void> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function'
}

/**
 * Runs `steps` to the end. Returns undefined when every step completed synchronously (the whole sequence ran before
 * this call returned), otherwise a promise that settles when the sequence has ended. A step that throws, or whose
 * promise rejects, ends the sequence with that error.
 */
export function runSteps (steps: Steps): void | Promise<void> {
  for (let r = steps.next(); r.done !== true; r = steps.next()) {
    if (isPromise(r.value)) return finishAsync(steps, r.value)
  }
}

async function finishAsync (steps: Steps, first: Promise<void>): Promise<void> {
  await first
  for (let r = steps.next(); r.done !== true; r = steps.next()) {
    if (isPromise(r.value)) await r.value
  }
}
