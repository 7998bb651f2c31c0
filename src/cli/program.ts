// The `gitconfig` command line: one commander program. Data commands run against the store chosen by
// --repo/--http (target.ts) and print through output.ts; `node start` runs a node until SIGTERM/SIGINT.
import { writeFile } from 'node:fs/promises'
import { Command, Option } from 'commander'
import { GitConfigError } from '../errors.js'
import { packageVersion } from '../node/package-version.js'
import { auditLimitMax, historyLimitMax, valueBytesMaxDefault } from '../limits.js'
import type { ConfigStore } from '../types.js'
import { printAudit, printCas, printDelete, printEvent, printHistory, printList, printValue, printWrite, type Output } from './output.js'
import { parseInteger, parseTtlSeconds, readStdin } from './parse.js'
import { openTarget, type TargetFlags } from './target.js'

interface CommonFlags extends TargetFlags {
  readonly json?: boolean
}

function withTarget (cmd: Command): Command {
  return cmd
    .option('--repo <path>', 'use the repository at PATH directly (embedded store, no server)')
    .addOption(new Option('--http <url>', 'talk to the node at URL').env('GITCONFIG_HTTP'))
    .addOption(new Option('--token-file <file>', "file holding the node's API token (else $GITCONFIG_TOKEN)").env('GITCONFIG_TOKEN_FILE'))
    .option('--json', 'print machine-readable JSON')
}

function withAuthor (cmd: Command): Command {
  return cmd.option('--author <name>', 'client identity recorded in the commit')
}

/** Opens the target, runs the command, closes the target whatever happens. */
async function withStore (flags: CommonFlags, run: (store: ConfigStore, out: Output) => Promise<void>): Promise<void> {
  const store = await openTarget(flags)
  const out: Output = { json: flags.json === true, write: chunk => { process.stdout.write(chunk) } }
  try {
    await run(store, out)
  } finally {
    await store.close()
  }
}

export function buildProgram (): Command {
  const program = new Command('gitconfig')
    .description('A replicated configuration and key-value store where git is the source of truth')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ outputError: () => {} }) // main.ts prints every error as one line
    .showSuggestionAfterError(false)

  withAuthor(withTarget(program.command('set')))
    .description('set KEY to VALUE (read from stdin when VALUE is omitted or -)')
    .argument('<key>', 'the key, e.g. /app1/database/url')
    .argument('[value]', 'the value; omitted or - reads stdin')
    .option('--ttl <seconds>', 'expire the key after this many seconds')
    .action(async (key: string, value: string | undefined, flags: CommonFlags & { ttl?: string }) => {
      const ttlMs = flags.ttl === undefined ? undefined : parseTtlSeconds(flags.ttl)
      const bytes = value === undefined || value === '-' ? await readStdin(valueBytesMaxDefault) : value
      await withStore(flags, async (store, out) => { printWrite(out, await store.set(key, bytes, { ttlMs, author: flags.author })) })
    })

  withTarget(program.command('get'))
    .description('print the value of KEY (exit 1 when absent)')
    .argument('<key>')
    .option('--commit <sha>', 'read the value as it was at this commit')
    .action(async (key: string, flags: CommonFlags & { commit?: string }) => {
      await withStore(flags, async (store, out) => {
        const kv = await store.get(key, flags.commit === undefined ? {} : { commit: flags.commit })
        if (kv === null) throw new GitConfigError('NOT_FOUND', `${key}: not found`)
        printValue(out, kv)
      })
    })

  withAuthor(withTarget(program.command('delete')))
    .description('delete KEY (exit 1 when absent)')
    .argument('<key>')
    .action(async (key: string, flags: CommonFlags) => {
      await withStore(flags, async (store, out) => {
        const r = await store.delete(key, { author: flags.author })
        if (!r.deleted) throw new GitConfigError('NOT_FOUND', `${key}: not found`)
        printDelete(out, r)
      })
    })

  withAuthor(withTarget(program.command('cas')))
    .description("set KEY to VALUE only if it now holds EXPECTED ('' = only if absent); exit 3 when it does not")
    .argument('<key>')
    .argument('<expected>', "the value the key must hold now; '' means the key must be absent")
    .argument('<value>')
    .option('--ttl <seconds>', 'expire the key after this many seconds')
    .action(async (key: string, expected: string, value: string, flags: CommonFlags & { ttl?: string }) => {
      const ttlMs = flags.ttl === undefined ? undefined : parseTtlSeconds(flags.ttl)
      await withStore(flags, async (store, out) => {
        const r = await store.compareAndSwap(key, expected === '' ? null : expected, value, { ttlMs, author: flags.author })
        printCas(out, r)
        if (!r.swapped) throw new CasNotSwapped(r.current)
      })
    })

  withTarget(program.command('list'))
    .description('list the keys below PREFIX')
    .argument('[prefix]', 'e.g. /env/prod/', '/')
    .option('-r, --recursive', 'every key below the prefix, not only its direct children')
    .option('--values', 'print values too')
    .action(async (prefix: string, flags: CommonFlags & { recursive?: boolean, values?: boolean }) => {
      await withStore(flags, async (store, out) => {
        const recursive = flags.recursive === true
        const showValues = flags.values === true
        // A direct-children listing asks for values even when not shown: it is how the CLI tells a key that holds a
        // value from one that only has keys below it.
        printList(out, await store.list(prefix, { recursive, values: showValues || !recursive }), showValues)
      })
    })

  withTarget(program.command('history'))
    .description('the commits that changed KEY, newest first')
    .argument('<key>')
    .option('--limit <n>', 'at most N entries')
    .action(async (key: string, flags: CommonFlags & { limit?: string }) => {
      const limit = flags.limit === undefined ? undefined : parseInteger(flags.limit, '--limit', 1, historyLimitMax)
      await withStore(flags, async (store, out) => { printHistory(out, await store.history(key, limit === undefined ? {} : { limit })) })
    })

  withTarget(program.command('audit'))
    .description('export every change to PREFIX (default: all keys) in a date range, oldest first; --json: one JSON object per line')
    .argument('[prefix]', 'a key or prefix; the key itself and every key below it', '/')
    .option('--since <date>', 'changes committed at or after this ISO-8601 date or date-time (UTC unless an offset is given)')
    .option('--until <date>', 'changes committed before this ISO-8601 date or date-time')
    .option('--limit <n>', 'at most N entries in all')
    .action(async (prefix: string, flags: CommonFlags & { since?: string, until?: string, limit?: string }) => {
      const total = flags.limit === undefined ? Infinity : parseInteger(flags.limit, '--limit', 1, Number.MAX_SAFE_INTEGER)
      await withStore(flags, async (store, out) => {
        let printed = 0
        let after: string | undefined
        while (printed < total) {
          const page = await store.audit(prefix, { since: flags.since, until: flags.until, after, limit: Math.min(auditLimitMax, total - printed) })
          printAudit(out, page.entries)
          printed += page.entries.length
          if (page.next === null) break
          after = page.next
        }
      })
    })

  withAuthor(withTarget(program.command('rollback')))
    .description("restore KEY's value (or absence) as of commit SHA, as a new commit")
    .argument('<key>')
    .requiredOption('--to <sha>', 'the commit whose value to restore')
    .action(async (key: string, flags: CommonFlags & { to: string }) => {
      await withStore(flags, async (store, out) => { printWrite(out, await store.rollback(key, flags.to, { author: flags.author })) })
    })

  withTarget(program.command('watch'))
    .description('print every change to KEY (or below it with --recursive) until interrupted')
    .argument('<key>')
    .option('-r, --recursive', 'watch every key below KEY')
    .option('--since <sha>', 'first print the changes made after this commit')
    .action(async (key: string, flags: CommonFlags & { recursive?: boolean, since?: string }) => {
      const controller = new AbortController()
      const stop = (): void => { controller.abort() }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      try {
        await withStore(flags, async (store, out) => {
          const events = store.watch(key, { recursive: flags.recursive === true, since: flags.since, signal: controller.signal })
          for await (const ev of events) {
            printEvent(out, ev)
            if (controller.signal.aborted) break
          }
        })
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
    })

  const nodeCommand = program.command('node').description('run a node')
  nodeCommand.command('cluster-key')
    .description('make a new cluster key: written to FILE (mode 0600, never over an existing file) or printed; ' +
      'give every node of a cluster the same file with --cluster-key FILE')
    .argument('[file]', 'the key file to create')
    .action(async (file: string | undefined) => {
      const { newClusterKeyText } = await import('../node/replication.js')
      const key = await newClusterKeyText()
      if (file === undefined) { process.stdout.write(key); return }
      try {
        await writeFile(file, key, { mode: 0o600, flag: 'wx' })
      } catch (err) {
        throw new GitConfigError('INVALID_ARGUMENT', `cannot create ${file}: ${(err as Error).message}`)
      }
    })
  nodeCommand.command('start')
    .description('serve a repository over HTTP until SIGTERM/SIGINT')
    .option('--repo <path>', 'the repository this node owns (created when missing)', './data')
    .option('--http-port <port>', 'HTTP port; 0 picks a free one (the bound address is printed)', '8080')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .option('--key-bytes-max <n>', 'longest key in bytes')
    .option('--value-bytes-max <n>', 'largest value in bytes')
    .option('--request-bytes-max <n>', 'largest request body in bytes')
    .option('--p2p-port <port>', 'replicate with other nodes over libp2p on this TCP port; 0 picks a free one (the multiaddr is printed)')
    .option('--p2p-host <address>', 'IP address the p2p port listens on', '127.0.0.1')
    .option('--bootstrap <multiaddr>', 'a node to join: its p2p address (/ip4/10.0.0.1/tcp/4001) or the full multiaddr it prints (.../p2p/<PeerId>); repeatable', collect, [])
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); needs --tls-key')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--auth-token-file <file>', 'require "Authorization: Bearer <token>" with this file\'s token on every route but /health')
    .option('--cluster-key <file>', 'only peers holding this key (gitconfig node cluster-key) can connect over p2p')
    .option('--remote <path-or-url>', 'a shared git remote to push our head to and merge the other nodes from')
    .option('--sync-interval <seconds>', 'seconds between syncs with --remote', '30')
    .action(async (flags: Record<string, string | string[] | undefined>) => {
      // Loaded on demand: the server stack (fastify, prom-client, pino) would slow every other command's start-up.
      const { runNodeStart } = await import('./node-command.js')
      await runNodeStart(flags)
    })

  return program
}

/** Commander accumulator of a repeatable option. */
function collect (value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** A CAS that did not swap: not an error of the store, but the CLI reports it (exit 3) so scripts can branch. */
export class CasNotSwapped extends Error {
  constructor (readonly current: Uint8Array | null) {
    super(current === null ? 'not swapped: the key is absent' : 'not swapped: the key holds another value')
  }
}
