import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { errorCodes, GitConfigError } from '../src/errors.js'

test('docs/errors.md lists exactly the codes, statuses and exit codes of src/errors.ts', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
  const rows = new Map<string, { status: number, exitCode: number, meaning: string }>()
  for (const line of doc.split('\n')) {
    const m = /^\| ([A-Z_]+) \| (\d+) \| (\d+) \| (.+) \|$/.exec(line)
    if (m) rows.set(m[1], { status: Number(m[2]), exitCode: Number(m[3]), meaning: m[4] })
  }
  assert.deepEqual([...rows.keys()].sort(), Object.keys(errorCodes).sort())
  for (const [code, spec] of Object.entries(errorCodes)) {
    assert.deepEqual(rows.get(code), { status: spec.status, exitCode: spec.exitCode, meaning: spec.meaning }, code)
  }
})

test('GitConfigError carries its code, status, exit code and JSON body', () => {
  const err = new GitConfigError('VALUE_TOO_LARGE', 'value is 2000000 bytes; the limit is 1048576', { limitBytes: 1048576 })
  assert.equal(err.status, 413)
  assert.equal(err.exitCode, 2)
  assert.deepEqual(JSON.parse(JSON.stringify(err)), {
    error: 'VALUE_TOO_LARGE', message: 'value is 2000000 bytes; the limit is 1048576', limitBytes: 1048576
  })
})
