// Which store a CLI command talks to: the embedded store in --repo PATH, or a node at --http URL (or
// $GITCONFIG_HTTP). Both are ConfigStore, so every command below this point is written once.
import { GitConfigClient } from '../client/client.js'
import { readConfigFile } from '../config-file.js'
import { GitConfigError } from '../errors.js'
import { keyBytesMaxDefault, valueBytesMaxDefault } from '../limits.js'
import type { ConfigStore } from '../types.js'

export interface TargetFlags {
  readonly repo?: string
  readonly http?: string
  readonly author?: string
  /** File holding the node's API token; else $GITCONFIG_TOKEN. */
  readonly tokenFile?: string
}

async function apiToken (flags: TargetFlags): Promise<string | undefined> {
  if (flags.tokenFile === undefined) {
    const fromEnv = process.env.GITCONFIG_TOKEN
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv
  }
  return (await readConfigFile(flags.tokenFile, 'token')).toString('utf8').trim()
}

export async function openTarget (flags: TargetFlags): Promise<ConfigStore> {
  if (flags.repo !== undefined && flags.http !== undefined) {
    throw new GitConfigError('INVALID_ARGUMENT', 'give either --repo PATH or --http URL, not both')
  }
  if (flags.http !== undefined) {
    const token = await apiToken(flags)
    return new GitConfigClient(flags.http, { ...(flags.author === undefined ? {} : { author: flags.author }), ...(token === undefined ? {} : { token }) })
  }
  if (flags.repo !== undefined) {
    // Loaded on demand so --http commands do not pay for the storage stack at start-up.
    const { openStore } = await import('../node/open-store.js')
    return await openStore(flags.repo, { keyBytesMax: keyBytesMaxDefault, valueBytesMax: valueBytesMaxDefault })
  }
  throw new GitConfigError('INVALID_ARGUMENT', 'say where the store is: --repo PATH (embedded) or --http URL (a running node; also $GITCONFIG_HTTP)')
}
