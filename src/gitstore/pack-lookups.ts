// Object lookups in flight in the git processes that read one repository's packs, so that maintenance deletes
// the packs it folded only when no lookup can still need them.
//
// git looks an object up in the packs it knows, then (on a miss) rescans objects/pack once and looks again. A lookup
// whose rescan ran before a repack wrote the new pack, and which opens an old pack after the repack deleted it,
// fails although the object is on disk: `fatal: Not a valid commit` from fast-import, `missing` from cat-file
// (decision 0268). A lookup that starts once the new pack exists cannot fail that way: its rescan finds the new
// pack. So maintenance writes the new pack, waits for the lookups in flight at that moment (not for later ones, so
// a busy store cannot hold it off), and only then deletes the old packs.
import { resolve } from 'node:path'

export class PackLookups {
  private readonly inFlight = new Set<Promise<unknown>>()

  /** Counts `lookup` as in flight until it settles; returns it unchanged. */
  track<T> (lookup: Promise<T>): Promise<T> {
    this.inFlight.add(lookup)
    const done = (): void => { this.inFlight.delete(lookup) }
    lookup.then(done, done)
    return lookup
  }

  /** How many lookups are in flight (tests, diagnostics). */
  get size (): number { return this.inFlight.size }

  /** Resolves once every lookup in flight now has settled; lookups started later are not waited for. */
  async settled (): Promise<void> {
    if (this.inFlight.size === 0) return
    await Promise.allSettled([...this.inFlight])
  }
}

/**
 * One tracker per repository in this process, found by path: the store's writer lock allows one open store per
 * repository, and its fast-import, cat-file, git commands and maintenance all name the repository by the same path.
 */
const byRepository = new Map<string, PackLookups>()

export function packLookups (gitDir: string): PackLookups {
  const key = resolve(gitDir)
  let lookups = byRepository.get(key)
  if (lookups === undefined) {
    lookups = new PackLookups()
    byRepository.set(key, lookups)
  }
  return lookups
}
