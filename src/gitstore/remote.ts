// The shared git remote (scenario 2's --remote): a bare repository every node pushes its main to, under its own
// branch, and fetches the others' branches from. Plain `git push`/`git fetch` with argument arrays, never a shell.
import { GitConfigError } from '../errors.js'
import { remoteRefsMax, remoteSyncTimeoutMs } from '../limits.js'
import { runGit } from './git-process.js'

/** Where each node's main lives on the remote, and where the fetched copies live locally. */
export const remoteBranchPrefix = 'refs/heads/gitconfig/'
export const localRemotePrefix = 'refs/remotes/gitconfig/'

function checkRemote (remote: unknown): string {
  if (typeof remote !== 'string' || remote === '' || remote.startsWith('-') || /[\u0000-\u001f]/.test(remote)) { // eslint-disable-line no-control-regex
    throw new GitConfigError('INVALID_ARGUMENT', `the remote must be a path or URL (not starting with "-"), got ${JSON.stringify(remote)}`)
  }
  return remote
}

async function gitRemote (gitDir: string, args: readonly string[], what: string): Promise<string> {
  const r = await runGit(gitDir, args, undefined, { timeoutMs: remoteSyncTimeoutMs })
  if (r.code !== 0) {
    throw new GitConfigError('TRANSFER_FAILED', `${what} failed (exit ${r.code}): ${r.stderr}`, { reason: 'refused', exitCode: r.code })
  }
  return r.stdout.toString('utf8')
}

/** Pushes main to refs/heads/gitconfig/<nodeId> on the remote (forced: the branch belongs to this node alone). */
export async function pushToRemote (gitDir: string, remote: string, nodeId: string, head: string | null): Promise<void> {
  const url = checkRemote(remote)
  if (head === null) return
  await gitRemote(gitDir, ['push', '--quiet', '--no-verify', url, `+${head}:${remoteBranchPrefix}${nodeId}`], `git push to ${url}`)
}

/**
 * Fetches every refs/heads/gitconfig/* of the remote into refs/remotes/gitconfig/* (pruning deleted ones, checking
 * every object received) and returns the commit ids they point to.
 */
export async function fetchFromRemote (gitDir: string, remote: string): Promise<string[]> {
  const url = checkRemote(remote)
  await gitRemote(gitDir, ['-c', 'fetch.fsckObjects=true', 'fetch', '--quiet', '--no-tags', '--prune', '--no-write-fetch-head', url,
    `+${remoteBranchPrefix}*:${localRemotePrefix}*`], `git fetch from ${url}`)
  const out = await gitRemote(gitDir, ['for-each-ref', `--count=${remoteRefsMax}`, '--format=%(objectname) %(objecttype)', localRemotePrefix], 'git for-each-ref')
  const ids = new Set<string>()
  for (const line of out.split('\n')) {
    const [id, type] = line.split(' ')
    if (type === 'commit' && /^[0-9a-f]{40}$/.test(id)) ids.add(id)
  }
  return [...ids]
}
