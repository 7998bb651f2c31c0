// The cluster key: a pre-shared key (libp2p private network, @libp2p/pnet) that every node of a cluster holds. With
// it, each connection is wrapped in an XSalsa20 stream keyed by it before noise even starts, so a process without the
// key cannot complete a handshake: it can neither announce heads, serve packs nor read anything (decision 0407).
// The file is the usual swarm-key format: `/key/swarm/psk/1.0.0/`, `/base16/`, then 64 hex digits.
import { generateKey } from '@libp2p/pnet'
import { readConfigFile } from '../config-file.js'
import { GitConfigError } from '../errors.js'

const clusterKeyPattern = /^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n([0-9a-fA-F]{64})\s*$/
/** Bytes of a generated key file: two header lines and 64 hex digits. */
const clusterKeyFileBytes = 95

/** A new cluster key, as the text of a key file. */
export function newClusterKey (): string {
  const bytes = new Uint8Array(clusterKeyFileBytes)
  generateKey(bytes)
  return Buffer.from(bytes).toString('utf8') + '\n'
}

/** Reads and checks a key file; returns it in the canonical form @libp2p/pnet expects. */
export async function readClusterKey (path: string): Promise<Uint8Array> {
  const text = (await readConfigFile(path, 'cluster key')).toString('utf8')
  const m = clusterKeyPattern.exec(text)
  if (m === null) {
    throw new GitConfigError('INVALID_ARGUMENT', `${path} is not a cluster key: expected "/key/swarm/psk/1.0.0/", "/base16/" ` +
      'and 64 hex digits on three lines (make one with `gitconfig node cluster-key > FILE`)')
  }
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${m[1].toLowerCase()}`)
}
