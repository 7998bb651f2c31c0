// /watch/<path>: the store's watch served as a long-poll (JSON) or as Server-Sent Events.
//
// Resuming: every event carries its commit. A long-poll answer ends with `next`, the cursor to pass as `since`;
// an SSE stream sends each event with `id: <commit>` so EventSource's Last-Event-ID resumes it. Without a cursor,
// the node starts from the head commit and says so (long-poll `next`, SSE `ready` event), so even a client that
// has seen no event yet can reconnect without missing one.
//
// A long-poll answer never ends inside a commit's changes: the store hands out one commit's changes together, and
// the answer is cut only when the next event belongs to another commit, so `since` = last commit loses nothing.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import { isGitConfigError } from '../errors.js'
import { sseHeartbeatMs, watchBatchEventsMax, watchBatchGraceMs } from '../limits.js'
import type { NodeService, WatchHandle } from '../node/service.js'
import type { WatchEvent } from '../types.js'
import { parseCommit, parseCommitParam, parseFlag, parseWaitSeconds, type Query } from './params.js'
import { keyFromRoute } from './target.js'
import { encodeValue, type WireWatchEvent } from './wire.js'

/**
 * How long an SSE request waits for the store to reject it (bad cursor) before it commits to a 200 stream, when the
 * store could not check the cursor up front (WatchHandle.cursorChecked false).
 */
const sseEarlyErrorWaitMs = 25

export function registerWatchRoutes (app: FastifyInstance, node: NodeService): void {
  // No automatic HEAD route: a HEAD would open a watch and hold the connection for nothing.
  app.get('/watch/*', { exposeHeadRoute: false }, async (request, reply) => {
    const key = keyFromRoute(request, true)
    const query = request.query as Query
    const recursive = parseFlag(query, 'recursive')
    const lastEventId = request.headers['last-event-id']
    const since = parseCommitParam(query, 'since') ??
      parseCommit(typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : undefined, 'Last-Event-ID')
    const wantsSse = (request.headers.accept ?? '').includes('text/event-stream')
    const waitMs = wantsSse ? 0 : parseWaitSeconds(query) * 1000
    const handle = await node.openWatch(key, { recursive, ...(since === undefined ? {} : { since }) })
    if (wantsSse) {
      await serveSse(node, handle, request, reply)
      return
    }
    return await longPoll(handle, waitMs, reply)
  })
}

export function toWire (ev: WatchEvent): WireWatchEvent {
  return { key: ev.key, op: ev.op, ...encodeValue(ev.value), commit: ev.commit, version: ev.version }
}

type Pulled = { kind: 'event', event: WatchEvent } | { kind: 'done' } | { kind: 'timeout' }

/** A promise that resolves once the watch is released, so no await outlives a disconnected client. */
function released (handle: WatchHandle): Promise<{ kind: 'done' }> {
  return new Promise(resolve => {
    if (handle.signal.aborted) resolve({ kind: 'done' })
    else handle.signal.addEventListener('abort', () => { resolve({ kind: 'done' }) }, { once: true })
  })
}

/**
 * Resolves once the microtasks queued so far, and those they queue, have run. The nextTick is scheduled from inside
 * a microtask, so Node runs it only after the microtask queue is empty, whatever the caller's context.
 */
function afterMicrotasks (): Promise<void> {
  return new Promise(resolve => { queueMicrotask(() => { process.nextTick(resolve) }) })
}

/**
 * The next event, `done`, or `timeout` after `waitMs` (null: no timeout). `waitMs` 0 asks "is the next event ready
 * now?": the store hands out a commit's events together, so the rest of a commit is ready within the microtasks
 * that delivered its first event, and the answer needs no timer or turn of the event loop.
 */
async function pull (pending: Promise<IteratorResult<WatchEvent>>, stop: Promise<{ kind: 'done' }>, waitMs: number | null): Promise<Pulled> {
  let timer: NodeJS.Timeout | undefined
  const racers: Array<Promise<Pulled>> = [
    pending.then(r => r.done === true ? { kind: 'done' as const } : { kind: 'event' as const, event: r.value }),
    stop
  ]
  if (waitMs === 0) {
    racers.push(afterMicrotasks().then(() => ({ kind: 'timeout' as const })))
  } else if (waitMs !== null) {
    racers.push(new Promise(resolve => { timer = setTimeout(() => { resolve({ kind: 'timeout' }) }, waitMs) }))
  }
  try {
    return await Promise.race(racers)
  } finally {
    clearTimeout(timer)
  }
}

async function longPoll (handle: WatchHandle, waitMs: number, reply: FastifyReply): Promise<{ events: WireWatchEvent[], next: string | null }> {
  const onClose = (): void => { handle.close() }
  reply.raw.on('close', onClose)
  const stop = released(handle)
  try {
    const events: WatchEvent[] = []
    // After a timeout the pending next() is abandoned, never awaited again: the watch is closed right after, and
    // the client's next request resumes from the last commit it was given.
    let r = await pull(handle.events.next(), stop, Math.max(waitMs, watchBatchGraceMs))
    while (r.kind === 'event') {
      const last = events.at(-1)
      if (last !== undefined && events.length >= watchBatchEventsMax && last.commit !== r.event.commit) break
      events.push(r.event)
      r = await pull(handle.events.next(), stop, watchBatchGraceMs)
    }
    return { events: events.map(toWire), next: events.at(-1)?.commit ?? handle.since }
  } finally {
    reply.raw.off('close', onClose)
    handle.close()
  }
}

function sseFrame (event: string, data: unknown, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

async function writeFrame (res: ServerResponse, frame: string, stop: Promise<unknown>): Promise<void> {
  if (res.write(frame)) return
  // Backpressure: a slow reader holds this watch at one buffered frame rather than growing memory.
  await Promise.race([new Promise(resolve => res.once('drain', resolve)), stop])
}

async function serveSse (node: NodeService, handle: WatchHandle, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const stop = released(handle)
  let pending = handle.events.next()
  // Let a bad cursor (unknown commit) surface as an HTTP error while the status line can still say so.
  const early = await pull(pending, stop, handle.cursorChecked ? 0 : sseEarlyErrorWaitMs).catch((err: unknown) => { handle.close(); throw err })

  reply.hijack()
  const res = reply.raw
  res.on('error', () => { handle.close() })
  res.on('close', () => { handle.close() })
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no'
  })
  res.write('retry: 1000\n\n')
  res.write(sseFrame('ready', { since: handle.since }, handle.since ?? undefined))
  node.metrics.observeRequest('/watch/*', request.method, 200, null)
  const heartbeat = setInterval(() => { res.write(': ping\n\n') }, sseHeartbeatMs)
  try {
    let r: Pulled = early.kind === 'timeout' ? await pull(pending, stop, null) : early
    while (r.kind === 'event' && !res.destroyed) {
      const event = r.event
      pending = handle.events.next()
      // The store hands out a commit's changes together, so if the next change is not ready at once, this one ends
      // its commit. Only that last change carries `id:`, so Last-Event-ID never points into a half-sent commit:
      // a stream cut inside a commit resumes before it (the client may see that commit's first changes again, and
      // GitConfigClient drops those repeats), never after it.
      r = await pull(pending, stop, 0)
      const endsCommit = r.kind !== 'event' || r.event.commit !== event.commit
      await writeFrame(res, sseFrame('change', toWire(event), endsCommit ? event.commit : undefined), stop)
      if (r.kind === 'timeout') r = await pull(pending, stop, null)
    }
  } catch (err) {
    node.reportUnexpected(err, { url: request.url })
    const body = isGitConfigError(err) ? err.toJSON() : { error: 'INTERNAL', message: 'watch failed; see the node log' }
    if (!res.destroyed) res.write(sseFrame('error', body))
  } finally {
    clearInterval(heartbeat)
    handle.close()
    res.end()
  }
}
