// `gitconfig node start`: runs a node in the foreground. SIGTERM or SIGINT stops it gracefully (stop accepting,
// finish in-flight writes, close the store) and the process exits 0; a second signal, or a shutdown that takes
// longer than shutdownGraceMs, exits 1 at once.
import { shutdownGraceMs } from '../limits.js'
import { GitConfigNode } from '../node/node.js'
import { parseInteger } from './parse.js'

export async function runNodeStart (flags: Record<string, string | undefined>): Promise<void> {
  const optional = (name: string, flag: string): Record<string, number> => {
    const v = flags[name]
    return v === undefined ? {} : { [name]: parseInteger(v, flag, 0, 2 ** 31) }
  }
  const node = new GitConfigNode({
    repo: flags.repo,
    host: flags.host,
    httpPort: parseInteger(flags.httpPort ?? '8080', '--http-port', 0, 65535),
    logLevel: flags.logLevel,
    ...optional('keyBytesMax', '--key-bytes-max'),
    ...optional('valueBytesMax', '--value-bytes-max'),
    ...optional('requestBytesMax', '--request-bytes-max')
  })
  const address = await node.start()
  // Also on stderr in plain text, whatever the log level, so scripts and tests can find an ephemeral port.
  process.stderr.write(`gitconfig node listening on ${address.url} (repository ${node.options.repo})\n`)

  await new Promise<void>(resolve => {
    let stopping = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`error: second ${signal} during shutdown; exiting now\n`)
        process.exit(1)
      }
      stopping = true
      node.logger.info({ signal }, 'signal received; shutting down')
      const force = setTimeout(() => {
        process.stderr.write(`error: shutdown took longer than ${shutdownGraceMs} ms; exiting now\n`)
        process.exit(1)
      }, shutdownGraceMs)
      force.unref()
      node.stop().then(() => { clearTimeout(force); resolve() }, (err: unknown) => {
        process.stderr.write(`error: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`)
        process.exit(1)
      })
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}
