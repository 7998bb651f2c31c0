// Starts replication for a node when its options ask for it (p2pPort and/or remote): the p2p host (loaded on
// demand, so a node without p2p does not pay for loading libp2p) and the Replicator that joins it to the store.
import { join, resolve } from 'node:path'
import type { Logger } from 'pino'
import { GitConfigError } from '../errors.js'
import type { P2pHost } from '../p2p/index.js'
import type { ReplicationMetrics } from './metrics.js'
import type { NodeOptions } from './options.js'
import type { ReplicableStore } from './replication-port.js'
import { Replicator } from './replicator.js'

export interface PeerStatus {
  readonly peerId: string
  readonly addrs: readonly string[]
  readonly connected: boolean
  /** Given with --bootstrap (or found at a bare --bootstrap address) rather than learned from other peers. */
  readonly bootstrap: boolean
}

export interface ReplicationStatus {
  readonly p2p: {
    readonly peerId: string
    readonly multiaddrs: readonly string[]
    readonly peers: readonly PeerStatus[]
  } | null
}

export interface ReplicationRuntime {
  status (): ReplicationStatus
  stop (): Promise<void>
}

/** A new cluster key file's text (`gitconfig node cluster-key`); loads the p2p layer on demand like start does. */
export async function newClusterKeyText (): Promise<string> {
  const { newClusterKey } = await import('../p2p/index.js')
  return newClusterKey()
}

/** The libp2p key lives in the store's state folder, next to the node id, unless the options name another file. */
export function p2pKeyFile (options: NodeOptions): string {
  return options.p2pKeyFile ?? join(resolve(options.repo), 'gitconfig', 'p2p.key')
}

/** Null when the options ask for no replication. */
export async function startReplication (store: ReplicableStore, options: NodeOptions, logger: Logger, metrics: ReplicationMetrics): Promise<ReplicationRuntime | null> {
  if (options.p2pPort === undefined && options.remote === undefined) return null
  let host: P2pHost | null = null
  // The host calls back into the replicator, which needs the host to announce: the late binding breaks the cycle.
  let replicator: Replicator | null = null
  if (options.p2pPort !== undefined) {
    const { createP2pHost } = await import('../p2p/index.js')
    host = await createP2pHost({
      keyFile: p2pKeyFile(options),
      ...(options.clusterKeyFile === undefined ? {} : { clusterKeyFile: options.clusterKeyFile }),
      listenHost: options.p2pHost,
      port: options.p2pPort,
      bootstrap: options.bootstrap,
      localHeads: () => replicator?.localHeads() ?? [],
      fetchResponder: (request, { signal }) => {
        if (replicator === null) throw new GitConfigError('UNAVAILABLE', 'replication is not running')
        return replicator.createPack(request, signal)
      }
    })
  }
  replicator = new Replicator({
    store,
    transport: host,
    remote: options.remote ?? null,
    syncIntervalMs: options.syncIntervalSeconds * 1000,
    logger,
    metrics
  })
  const running = replicator
  running.start()
  if (host !== null) {
    const p2p = host
    p2p.addEventListener('head', (e) => { running.onHead(e.detail) })
    p2p.addEventListener('peer:connect', (e) => { logger.info({ peer: e.detail }, 'peer connected') })
    p2p.addEventListener('peer:disconnect', (e) => { logger.info({ peer: e.detail }, 'peer disconnected') })
    try {
      await p2p.start()
    } catch (err) {
      await running.stop()
      await p2p.stop().catch(() => {})
      throw err
    }
    logger.info({ peerId: p2p.peerId, multiaddrs: p2p.multiaddrs() }, 'p2p listening')
  }
  return {
    status: () => ({ p2p: host === null ? null : describeHost(host) }),
    stop: async () => {
      await running.stop()
      await host?.stop()
    }
  }
}

function describeHost (host: P2pHost): NonNullable<ReplicationStatus['p2p']> {
  const connected = new Map(host.peers().map(p => [p.peerId, p]))
  const peers: PeerStatus[] = host.knownPeers().map(p => ({
    peerId: p.peerId,
    addrs: p.addrs.length > 0 ? p.addrs : connected.get(p.peerId)?.addrs ?? [],
    connected: connected.has(p.peerId),
    bootstrap: p.bootstrap
  }))
  // A connected libp2p peer that is not in the peer book (yet) is listed too: /status shows every connection.
  for (const p of connected.values()) if (!peers.some(q => q.peerId === p.peerId)) peers.push({ peerId: p.peerId, addrs: p.addrs, connected: true, bootstrap: false })
  return { peerId: host.peerId, multiaddrs: host.multiaddrs(), peers }
}
