// Reading a file an operator named in an option (key, token, certificate): a missing or unreadable file is bad
// input that names the file, not an internal error.
import { readFile } from 'node:fs/promises'
import { GitConfigError } from './errors.js'

export async function readConfigFile (path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (err) {
    throw new GitConfigError('INVALID_ARGUMENT', `cannot read the ${what} file ${path}: ${(err as Error).message}`)
  }
}
