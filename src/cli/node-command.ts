// `gitconfig node start`: runs a node in the foreground. SIGTERM or SIGINT stops it gracefully (stop accepting,
// finish in-flight writes, close the store) and the process exits 0; a second signal, or a shutdown that takes
// longer than shutdownGraceMs, exits 1 at once.
import { shutdownGraceMs } from '../limits.js'
import { GitConfigNode } from '../daemon/daemon.js'
import { parseInteger } from './parse.js'

export async function runNodeStart (rawFlags: Record<string, string | string[] | undefined>): Promise<void> {
  const flags: Record<string, string | undefined> = {}
  for (const [name, v] of Object.entries(rawFlags)) if (typeof v === 'string') flags[name] = v
  const optional = (name: string, flag: string, max = 2 ** 31): Record<string, number> => {
    const v = flags[name]
    return v === undefined ? {} : { [name]: parseInteger(v, flag, 0, max) }
  }
  const bootstrap = Array.isArray(rawFlags.bootstrap) ? rawFlags.bootstrap : []
  const node = new GitConfigNode({
    repo: flags.repo,
    host: flags.host,
    httpPort: parseInteger(flags.httpPort ?? '8080', '--http-port', 0, 65535),
    logLevel: flags.logLevel,
    ...optional('keyBytesMax', '--key-bytes-max'),
    ...optional('valueBytesMax', '--value-bytes-max'),
    ...optional('requestBytesMax', '--request-bytes-max'),
    ...optional('p2pPort', '--p2p-port', 65535),
    ...(flags.p2pHost === undefined ? {} : { p2pHost: flags.p2pHost }),
    ...(bootstrap.length === 0 ? {} : { bootstrap }),
    ...(flags.clusterKey === undefined ? {} : { clusterKeyFile: flags.clusterKey }),
    ...(flags.tlsCert === undefined ? {} : { tlsCertFile: flags.tlsCert }),
    ...(flags.tlsKey === undefined ? {} : { tlsKeyFile: flags.tlsKey }),
    ...(flags.authTokenFile === undefined ? {} : { authTokenFile: flags.authTokenFile }),
    ...(flags.remote === undefined ? {} : { remote: flags.remote }),
    syncIntervalSeconds: parseInteger(flags.syncInterval ?? '30', '--sync-interval', 1, 24 * 3600)
  })
  // The handlers go in before the node starts: a supervisor (or a test) may signal as soon as it reads the address
  // line, and a signal that found no handler would kill the node without its graceful stop. A signal during start-up
  // stops the node once it has started.
  let signalled: NodeJS.Signals | null = null
  let wake: (() => void) | null = null
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled !== null) {
      process.stderr.write(`error: second ${signal} during shutdown; exiting now\n`)
      process.exit(1)
    }
    signalled = signal
    wake?.()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)

  const address = await node.start()
  // Also on stderr in plain text, whatever the log level, so scripts and tests can find ephemeral ports. The p2p
  // lines come first: a reader that waits for the HTTP line has them too.
  for (const addr of node.p2pMultiaddrs) process.stderr.write(`gitconfig p2p listening on ${addr}\n`)
  process.stderr.write(`gitconfig node listening on ${address.url} (repository ${node.options.repo})\n`)

  if (signalled === null) await new Promise<void>((resolve) => { wake = resolve })
  node.logger.info({ signal: signalled }, 'signal received; shutting down')
  const force = setTimeout(() => {
    process.stderr.write(`error: shutdown took longer than ${shutdownGraceMs} ms; exiting now\n`)
    process.exit(1)
  }, shutdownGraceMs)
  force.unref()
  try {
    await node.stop()
  } catch (err) {
    process.stderr.write(`error: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  }
  clearTimeout(force)
}
