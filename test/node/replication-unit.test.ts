// The Replicator with a fake store and a fake transport: which heads cause fetches, from whom, with what `have`;
// dedupe of repeated and in-flight heads; only the newest waiting head per node; failures counted and retried on
// the next announcement; local commits announced; the shared-remote round.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as tick } from 'node:timers/promises'
import { pino } from 'pino'
import { GitConfigError } from '../../src/errors.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import type { MergeResult, ReplicableStore, ReplicatedCommitEvent } from '../../src/node/replication-port.js'
import { Replicator, type ReplicationTransport } from '../../src/node/replicator.js'
import type { FetchRequest, HeadAnnouncement, HeadEvent } from '../../src/p2p/index.js'

const c = (d: string): string => d.repeat(40)

class FakeStore implements ReplicableStore {
  readonly nodeId = 'local'
  head: string | null = c('0')
  readonly objects = new Set<string>([c('0')])
  readonly merged: string[] = []
  readonly pushed: string[] = []
  remoteHeads: string[] = []
  /** Every commit asked about, in order: a job's first question shows that it has started. */
  readonly probed: string[] = []
  private readonly listeners = new Set<(e: ReplicatedCommitEvent) => void>()

  async hasCommit (commit: string): Promise<boolean> {
    this.probed.push(commit)
    return this.objects.has(commit)
  }
  async * createPack (): AsyncIterable<Uint8Array> { yield new Uint8Array([1]) }
  async ingestPack (chunks: AsyncIterable<Uint8Array>, opts: { expect: readonly string[] }): Promise<void> {
    let n = 0
    for await (const chunk of chunks) n += chunk.byteLength
    if (n === 0) throw new GitConfigError('TRANSFER_FAILED', 'empty pack', { reason: 'malformed' })
    for (const e of opts.expect) this.objects.add(e)
  }

  async mergeFrom (commit: string): Promise<MergeResult> {
    this.merged.push(commit)
    this.head = commit
    return { head: commit, outcome: 'fast-forward', changedKeys: 1 }
  }

  async pushToRemote (remote: string): Promise<void> { this.pushed.push(`${remote}@${this.head ?? ''}`) }
  async fetchFromRemote (): Promise<string[]> {
    for (const h of this.remoteHeads) this.objects.add(h)
    return this.remoteHeads
  }

  onCommit (listener: (e: ReplicatedCommitEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  commitLocally (commit: string, wallMs: number): void {
    this.head = commit
    this.objects.add(commit)
    for (const l of this.listeners) l({ commit, changes: [{ meta: { version: { wallMs, counter: 0, node: this.nodeId } } }] })
  }
}

interface FetchCall { peer: string, request: FetchRequest }

class FakeTransport implements ReplicationTransport {
  readonly announced: HeadAnnouncement[] = []
  readonly fetches: FetchCall[] = []
  /** Each fetch waits for its gate when one is set (to hold jobs in flight). */
  gate: Promise<void> | null = null
  failNext = false
  /** Fetches called and not yet read to their end, and the most there ever were at once. */
  private active = 0
  activeMax = 0

  async announceHead (head: HeadAnnouncement): Promise<number> {
    this.announced.push(head)
    return 1
  }

  fetch (peer: string, request: FetchRequest): AsyncIterable<Uint8Array> {
    this.fetches.push({ peer, request })
    const fail = this.failNext
    this.failNext = false
    const gate = this.gate
    this.active += 1
    this.activeMax = Math.max(this.activeMax, this.active)
    const ended = (): void => { this.active -= 1 }
    return (async function * () {
      try {
        if (gate !== null) await gate
        if (fail) throw new GitConfigError('TRANSFER_FAILED', 'reset by peer', { reason: 'reset' })
        yield new Uint8Array([0x50, 0x41, 0x43, 0x4b])
      } finally {
        ended()
      }
    })()
  }
}

function setup (remote: string | null = null): { store: FakeStore, transport: FakeTransport, replicator: Replicator, metrics: NodeMetrics } {
  const store = new FakeStore()
  const transport = new FakeTransport()
  const metrics = new NodeMetrics({ keyCount: async () => null })
  const replicator = new Replicator({ store, transport, remote, syncIntervalMs: 3_600_000, logger: pino({ level: 'silent' }), metrics: metrics.replication })
  return { store, transport, replicator, metrics }
}

function headEvent (nodeId: string, commit: string, from: string, wallMs = 1, via: HeadEvent['via'] = 'gossip'): HeadEvent {
  return { head: { nodeId, commit, hlc: { wallMs, counter: 0, node: nodeId } }, from, via }
}

/**
 * Polls `condition` once per event-loop turn until it holds; for states the replicator reaches while a gate holds it
 * up (otherwise `replicator.idle()` is the wait). The limit is a hang guard only.
 */
async function until (condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`hang guard: ${what}`)
    await tick()
  }
}

async function counter (metrics: NodeMetrics, name: string, labels: string): Promise<number> {
  const text = await metrics.registry.metrics()
  const line = text.split('\n').find(l => l.startsWith(`${name}${labels} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

test('an unknown head is fetched from its announcer (have = our head), ingested and merged; repeats cost nothing', async () => {
  const { store, transport, replicator, metrics } = setup()
  replicator.start()
  replicator.onHead(headEvent('n1', c('a'), 'peerA'))
  await replicator.idle()
  assert.deepEqual(transport.fetches, [{ peer: 'peerA', request: { want: [c('a')], have: [c('0')] } }])
  assert.deepEqual(store.merged, [c('a')])
  replicator.onHead(headEvent('n1', c('a'), 'peerA', 1, 'anti-entropy'))
  await replicator.idle()
  assert.equal(transport.fetches.length, 1, 'a merged head is not fetched again')
  assert.equal(await counter(metrics, 'gitconfig_replication_fetches_total', '{result="ok"}'), 1)
  assert.equal(await counter(metrics, 'gitconfig_replication_merges_total', '{outcome="fast-forward"}'), 1)
  assert.equal(await counter(metrics, 'gitconfig_replication_fetch_bytes_total', ''), 4)
  await replicator.stop()
})

test('the next fetch offers the last head merged from each node as have, so the pack stays thin', async () => {
  const { transport, replicator } = setup()
  replicator.start()
  replicator.onHead(headEvent('n1', c('a'), 'peerA'))
  await replicator.idle()
  replicator.onHead(headEvent('n2', c('b'), 'peerB'))
  await replicator.idle()
  assert.deepEqual(transport.fetches[1].request.have.slice().sort(), [c('a')], 'our head is a, which is also n1\'s last head')
  replicator.onHead(headEvent('n1', c('c'), 'peerA', 2))
  await replicator.idle()
  assert.deepEqual(transport.fetches[2].request.have.slice().sort(), [c('a'), c('b')].sort())
  await replicator.stop()
})

test('a head already in flight is not fetched twice; while a node\'s job runs only its newest head waits', async () => {
  const { store, transport, replicator } = setup()
  replicator.start()
  let open: () => void = () => {}
  transport.gate = new Promise<void>(resolve => { open = resolve })
  replicator.onHead(headEvent('n1', c('a'), 'peerA', 1))
  replicator.onHead(headEvent('n1', c('a'), 'peerB', 1, 'anti-entropy'))
  replicator.onHead(headEvent('n1', c('b'), 'peerA', 2))
  replicator.onHead(headEvent('n1', c('d'), 'peerA', 4))
  replicator.onHead(headEvent('n1', c('c'), 'peerA', 3)) // older than d: superseded
  await until(() => transport.fetches.length > 0, 'the fetch of a to start')
  // The fetch of a holds its job at the gate. Only a job's end starts a waiting one, so nothing more can be fetched
  // until the gate opens.
  assert.deepEqual(transport.fetches.map(f => f.request.want[0]), [c('a')])
  transport.gate = null
  open()
  // Every job has ended here, however many turns it took: a second fetch of a, or of b or c, would be listed.
  await replicator.idle()
  assert.deepEqual(transport.fetches.map(f => f.request.want[0]), [c('a'), c('d')])
  assert.deepEqual(store.merged, [c('a'), c('d')])
  await replicator.stop()
})

test('a failed fetch is counted, nothing is merged, and the next announcement retries it', async () => {
  const { store, transport, replicator, metrics } = setup()
  replicator.start()
  transport.failNext = true
  replicator.onHead(headEvent('n1', c('a'), 'bad'))
  await replicator.idle()
  assert.deepEqual(store.merged, [])
  assert.equal(await counter(metrics, 'gitconfig_replication_fetches_total', '{result="failed"}'), 1)
  replicator.onHead(headEvent('n1', c('a'), 'good', 1, 'anti-entropy'))
  await replicator.idle()
  assert.deepEqual(transport.fetches.map(f => f.peer), ['bad', 'good'])
  assert.deepEqual(store.merged, [c('a')])
  await replicator.stop()
})

test('a head whose objects are already here is merged without a fetch', async () => {
  const { store, transport, replicator } = setup()
  replicator.start()
  store.objects.add(c('e'))
  replicator.onHead(headEvent('n1', c('e'), 'peerA'))
  await replicator.idle()
  assert.deepEqual(transport.fetches, [])
  assert.deepEqual(store.merged, [c('e')])
  await replicator.stop()
})

test('local commits are announced with the newest version; anti-entropy advertises the head', async () => {
  const { store, transport, replicator } = setup()
  replicator.start()
  store.commitLocally(c('1'), 500)
  store.commitLocally(c('2'), 400) // a merged-in older change does not lower the announced version
  // Announcing is not a job: the fake transport records it when called, and idle() covers any job it might start.
  await replicator.idle()
  assert.deepEqual(transport.announced.map(a => [a.commit, a.hlc.wallMs, a.nodeId]), [[c('1'), 500, 'local'], [c('2'), 500, 'local']])
  assert.deepEqual(replicator.localHeads().map(h => h.commit), [c('2')])
  replicator.onHead(headEvent('other', c('2'), 'peerA'))
  await replicator.idle()
  assert.deepEqual(transport.fetches, [], 'our own head is never fetched')
  await replicator.stop()
})

test('shared remote: a round merges every remote head we lack, then pushes our head', async () => {
  const { store, replicator, metrics } = setup('/srv/shared.git')
  store.remoteHeads = [c('0'), c('7'), c('8')]
  replicator.start()
  await replicator.idle()
  assert.deepEqual(store.merged, [c('7'), c('8')])
  assert.deepEqual(store.pushed, [`/srv/shared.git@${c('8')}`])
  assert.equal(await counter(metrics, 'gitconfig_replication_remote_syncs_total', '{result="ok"}'), 1)
  await replicator.stop()
})

test('fetches take turns: a second head waits for the running fetch, then offers the fetched head as have', async () => {
  const { store, transport, replicator } = setup()
  replicator.start()
  let open: () => void = () => {}
  transport.gate = new Promise<void>(resolve => { open = resolve })
  let mergeGate: () => void = () => {}
  const merging = new Promise<void>(resolve => { mergeGate = resolve })
  const merge = store.mergeFrom.bind(store)
  store.mergeFrom = async (commit) => { if (commit === c('a')) await merging; return await merge(commit) }
  replicator.onHead(headEvent('n1', c('a'), 'peerA'))
  replicator.onHead(headEvent('n2', c('b'), 'peerB'))
  // a's fetch is open at the gate and b's job has started (it asked for b): b's fetch now either waits its turn or
  // runs alongside a's, which the transport would count.
  await until(() => transport.fetches.length > 0 && store.probed.includes(c('b')), 'the fetch of a, and the job of b, to start')
  assert.deepEqual(transport.fetches.map(f => f.request.want[0]), [c('a')], 'one fetch at a time')
  transport.gate = null
  open()
  await until(() => store.merged.includes(c('b')), 'the merge of b')
  assert.deepEqual(transport.fetches.map(f => f.request.want[0]), [c('a'), c('b')])
  assert.deepEqual(store.merged, [c('b')], 'a is still merging while b is fetched')
  assert.deepEqual(transport.fetches[1].request.have.slice().sort(), [c('0'), c('a')].sort(), 'a\'s objects are here, though not merged yet')
  mergeGate()
  await replicator.idle()
  assert.deepEqual(store.merged.slice().sort(), [c('a'), c('b')].sort())
  assert.equal(transport.activeMax, 1, 'the two fetches never overlapped')
  await replicator.stop()
})

test('a head that arrived with the previous fetch is not fetched again', async () => {
  const { store, transport, replicator } = setup()
  replicator.start()
  let open: () => void = () => {}
  transport.gate = new Promise<void>(resolve => { open = resolve })
  const ingest = store.ingestPack.bind(store)
  store.ingestPack = async (chunks, opts) => { await ingest(chunks, opts); store.objects.add(c('b')) }
  replicator.onHead(headEvent('n1', c('a'), 'peerA'))
  replicator.onHead(headEvent('n2', c('b'), 'peerB'))
  await until(() => transport.fetches.length > 0 && store.probed.includes(c('b')), 'the fetch of a, and the job of b, to start')
  transport.gate = null
  open()
  await replicator.idle()
  assert.deepEqual(transport.fetches.map(f => f.request.want[0]), [c('a')])
  assert.deepEqual(store.merged.slice().sort(), [c('a'), c('b')].sort())
  await replicator.stop()
})
