#!/usr/bin/env node
// Entry point of the `gitconfig` bin. Every failure ends as one line `error: <message>` on stderr and the exit code
// of its error code (docs/errors.md): missing key 1, bad input 2, conflict 3, unavailable 4, internal 5.
import { CommanderError } from 'commander'
import { errorCodes, isGitConfigError } from '../errors.js'
import { buildProgram, CasNotSwapped } from './program.js'

/** A CAS that did not swap exits like the other conflicts (HTTP 409) in docs/errors.md. */
const casNotSwappedExitCode = 3

function fail (message: string, exitCode: number): void {
  process.stderr.write(`error: ${message.split('\n')[0]}\n`)
  process.exitCode = exitCode
}

async function main (argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they exit 0. Usage mistakes are bad input (2).
      if (err.exitCode === 0) return
      fail(err.message.replace(/^error: /, ''), errorCodes.INVALID_ARGUMENT.exitCode)
    } else if (err instanceof CasNotSwapped) {
      fail(err.message, casNotSwappedExitCode)
    } else if (isGitConfigError(err)) {
      fail(err.message, err.exitCode)
    } else {
      fail(`internal error: ${err instanceof Error ? err.message : String(err)}`, errorCodes.INTERNAL.exitCode)
    }
  }
}

await main(process.argv)
