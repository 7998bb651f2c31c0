// The node's persistent libp2p identity: an Ed25519 private key in a file the caller names (the node keeps it in
// its state folder). Same file, same PeerId, across restarts and kill -9: the key is written to a temporary name and
// fsynced, then hard-linked to the final name (which fails if that name exists, so two processes racing to create
// it agree on one key) and the folder fsynced. A crash leaves either no key file or a complete one, never a torn
// one that would silently change the node's identity.
import { link, open, readFile, unlink } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { GitConfigError } from '../errors.js'

/** Reads the key file, or creates it (mode 0600) with a new Ed25519 key when it does not exist. */
export async function loadOrCreatePrivateKey (path: string): Promise<PrivateKey> {
  const existing = await readKeyFile(path)
  if (existing !== null) return existing
  const key = await generateKeyPair('Ed25519')
  await writeFileAtomically(path, privateKeyToProtobuf(key))
  // Another process may have won a race to create the file; whatever is on disk now is the identity.
  const stored = await readKeyFile(path)
  if (stored === null) throw new GitConfigError('INTERNAL', `key file ${path} vanished right after it was written`)
  return stored
}

async function readKeyFile (path: string): Promise<PrivateKey | null> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null
    throw new GitConfigError('INVALID_ARGUMENT', `cannot read the key file ${path}: ${errorText(err)}`, { path })
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    // Never replace a damaged identity silently: peers know this node by it. The operator decides.
    throw new GitConfigError('INVALID_ARGUMENT', `the key file ${path} is not a libp2p private key (${errorText(err)}); move it away to create a new identity`, { path })
  }
}

async function writeFileAtomically (path: string, bytes: Uint8Array): Promise<void> {
  // A unique temporary name: concurrent creators (in this process or another) must not share one.
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const file = await open(temp, 'wx', 0o600)
  try {
    await file.writeFile(bytes)
    await file.sync()
  } finally {
    await file.close()
  }
  try {
    await link(temp, path)
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err
  } finally {
    await unlink(temp).catch(() => {})
  }
  const folder = await open(dirname(path), 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}

function errnoCode (err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code
  return undefined
}

function errorText (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
