// The node's options, validated once at the edge with one strict schema (unknown keys are rejected), then frozen
// and passed down typed. The CLI maps its flags onto these names; library users pass them to GitConfigNode.
import { z } from 'zod'
import { GitConfigError } from '../errors.js'
import {
  keyBytesMaxDefault, p2pBootstrapAddrsMax, p2pMultiaddrBytesMax, remoteSyncIntervalSecondsDefault, requestBytesMaxDefault,
  valueBytesMaxDefault
} from '../limits.js'

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

const nodeOptionsSchema = z.strictObject({
  /** The git repository this node owns (created when missing). */
  repo: z.string().min(1).default('./data'),
  /** Interface to listen on; loopback by default so a fresh node is not exposed to the network. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 asks the OS for a free port; the bound address is logged and returned by start(). */
  httpPort: z.number().int().min(0).max(65535).default(8080),
  logLevel: z.enum(logLevels).default('info'),
  keyBytesMax: z.number().int().min(16).max(64 * 1024).default(keyBytesMaxDefault),
  valueBytesMax: z.number().int().min(1).max(512 * 1024 * 1024).default(valueBytesMaxDefault),
  requestBytesMax: z.number().int().min(1024).max(1024 * 1024 * 1024).default(requestBytesMaxDefault),
  /** libp2p TCP port; replication over p2p is off when absent. 0 asks the OS for a free port (printed at start). */
  p2pPort: z.number().int().min(0).max(65535).optional(),
  /** IP address the p2p port listens on (the p2p layer checks that it is an IPv4 or IPv6 address). */
  p2pHost: z.string().min(1).default('127.0.0.1'),
  /** Peers to join: TCP multiaddrs, optionally ending in /p2p/<PeerId> (as another node prints them at start). */
  bootstrap: z.array(z.string().min(1).max(p2pMultiaddrBytesMax)).max(p2pBootstrapAddrsMax).default([]),
  /** libp2p identity file; default <repo>/gitconfig/p2p.key (the store's state folder), created when missing. */
  p2pKeyFile: z.string().min(1).optional(),
  /** TLS for the HTTP API: PEM certificate (chain) and private key files, both or neither. */
  tlsCertFile: z.string().min(1).optional(),
  tlsKeyFile: z.string().min(1).optional(),
  /** A file holding the API token every request but /health must send as `Authorization: Bearer <token>`. */
  authTokenFile: z.string().min(1).optional(),
  /** Cluster key file (`gitconfig node cluster-key`): only nodes holding the same key can connect over p2p. */
  clusterKeyFile: z.string().min(1).optional(),
  /** Shared git remote (path or URL) used as rendezvous and backup; works with p2p off. */
  remote: z.string().min(1).optional(),
  /** Period of the shared-remote sync (push our head, fetch and merge the others). */
  syncIntervalSeconds: z.number().int().min(1).max(24 * 3600).default(remoteSyncIntervalSecondsDefault)
})

export type NodeOptionsInput = z.input<typeof nodeOptionsSchema>
export type NodeOptions = Readonly<Omit<z.output<typeof nodeOptionsSchema>, 'bootstrap'> & { bootstrap: readonly string[] }>

/** Validates options; throws INVALID_ARGUMENT naming every bad field. */
export function parseNodeOptions (input: unknown): NodeOptions {
  const parsed = nodeOptionsSchema.safeParse(input ?? {})
  if (!parsed.success) {
    const reasons = parsed.error.issues.map(i => `${i.path.length > 0 ? i.path.join('.') : 'options'}: ${i.message}`)
    throw new GitConfigError('INVALID_ARGUMENT', `invalid node options: ${reasons.join('; ')}`)
  }
  const opts = parsed.data
  if (opts.requestBytesMax < opts.valueBytesMax) {
    throw new GitConfigError('INVALID_ARGUMENT', `invalid node options: requestBytesMax (${opts.requestBytesMax}) must be at least valueBytesMax (${opts.valueBytesMax})`)
  }
  if (opts.bootstrap.length > 0 && opts.p2pPort === undefined) {
    throw new GitConfigError('INVALID_ARGUMENT', 'invalid node options: bootstrap needs p2pPort (use 0 for any free port)')
  }
  if ((opts.tlsCertFile === undefined) !== (opts.tlsKeyFile === undefined)) {
    throw new GitConfigError('INVALID_ARGUMENT', 'invalid node options: tlsCertFile and tlsKeyFile go together')
  }
  if (opts.clusterKeyFile !== undefined && opts.p2pPort === undefined) {
    throw new GitConfigError('INVALID_ARGUMENT', 'invalid node options: clusterKeyFile needs p2pPort (it protects p2p connections)')
  }
  return Object.freeze({ ...opts, bootstrap: Object.freeze([...opts.bootstrap]) })
}
