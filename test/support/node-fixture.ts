// Starts a GitConfigNode in this process on an ephemeral loopback port with a fresh temporary repository.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { GitConfigNode } from '../../src/daemon/daemon.js'
import type { NodeOptionsInput } from '../../src/node/options.js'

export interface NodeFixture {
  readonly node: GitConfigNode
  readonly url: string
  readonly repo: string
  close (): Promise<void>
}

export async function startNode (options: Partial<NodeOptionsInput> = {}): Promise<NodeFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'gitconfig-api-'))
  const repo = join(dir, 'repo')
  const node = new GitConfigNode({ repo, httpPort: 0, logLevel: 'silent', ...options }, { logger: pino({ level: 'silent' }) })
  const { url } = await node.start()
  return {
    node,
    url,
    repo,
    close: async () => {
      await node.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
