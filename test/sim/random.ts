// The one source of randomness in simulations and property tests: a seeded xoroshiro128+ from pure-rand.
// Everything a run decides at random goes through one SimRandom built from the run's seed, so the same seed
// replays the same run.
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus'
import { uniformInt } from 'pure-rand/distribution/uniformInt'

export class SimRandom {
  private readonly rng: ReturnType<typeof xoroshiro128plus>

  constructor (readonly seed: number) {
    this.rng = xoroshiro128plus(seed)
  }

  /** Uniform integer in [min, max], both inclusive. */
  int (min: number, max: number): number {
    return uniformInt(this.rng, min, max)
  }

  /** True with probability p (0..1), at a resolution of one in a million. */
  chance (p: number): boolean {
    return this.int(0, 999_999) < Math.round(p * 1_000_000)
  }

  pick<T> (items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[this.int(0, items.length - 1)]
  }

  /** A new generator seeded from this one, for a component that must not shift the others' draws. */
  fork (): SimRandom {
    return new SimRandom(this.int(0, 0x7fffffff))
  }
}
