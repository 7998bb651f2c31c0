// The package's version for /status, read once from package.json. The module runs from src/node (tsx) or from
// dist/src/node (built), so both relative locations are tried.
import { readFileSync } from 'node:fs'

let cached: string | null = null

export function packageVersion (): string {
  if (cached !== null) return cached
  cached = 'unknown'
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'))
      if (typeof pkg === 'object' && pkg !== null && (pkg as { name?: unknown }).name === 'gitconfig') {
        const v = (pkg as { version?: unknown }).version
        if (typeof v === 'string') cached = v
        break
      }
    } catch { /* try the next location */ }
  }
  return cached
}
