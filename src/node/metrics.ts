// Prometheus metrics of one node, in a registry of its own so several nodes can live in one process (tests).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { metricsLabelSetsMax } from '../limits.js'

export interface MetricsSources {
  /** Live key count, or null when the store cannot say cheaply. */
  keyCount: () => Promise<number | null>
}

/** Replication counters (src/node/replicator.ts). */
export interface ReplicationMetrics {
  readonly headsReceived: Counter<'via'>
  readonly headsDropped: Counter
  readonly fetches: Counter<'result'>
  readonly fetchBytes: Counter
  readonly merges: Counter<'outcome'>
  readonly mergesRefused: Counter<'reason'>
  readonly remoteSyncs: Counter<'result'>
}

export class NodeMetrics {
  readonly registry = new Registry()
  readonly httpRequests: Counter<'route' | 'method' | 'status'>
  readonly httpDuration: Histogram<'route' | 'method'>
  readonly commits: Counter
  readonly batchSize: Histogram
  readonly watchers: Gauge
  readonly replication: ReplicationMetrics
  /**
   * Labelled children by `route method status`, so the per-request path skips prom-client's label hashing. Routes
   * are patterns (a handful), methods and statuses few, so the map stays small; it is bounded all the same.
   */
  private readonly requestChildren = new Map<string, { count: { inc: () => void }, latency: { observe: (v: number) => void } }>()

  constructor (sources: MetricsSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.httpRequests = new Counter({
      name: 'gitconfig_http_requests_total', help: 'HTTP requests answered, by route pattern, method and status', labelNames: ['route', 'method', 'status'], registers
    })
    this.httpDuration = new Histogram({
      name: 'gitconfig_http_request_duration_seconds',
      help: 'HTTP request latency from the first byte received to the last byte sent',
      labelNames: ['route', 'method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    })
    this.commits = new Counter({ name: 'gitconfig_commits_total', help: 'Commits written to main by this node', registers })
    this.batchSize = new Histogram({
      name: 'gitconfig_commit_batch_size', help: 'Keys changed per commit (group commit batch size)', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], registers
    })
    this.watchers = new Gauge({ name: 'gitconfig_watchers', help: 'Open watches (SSE streams and waiting long-polls)', registers })
    this.replication = {
      headsReceived: new Counter({ name: 'gitconfig_replication_heads_received_total', help: 'Peer head announcements received, by path (gossip or anti-entropy)', labelNames: ['via'], registers }),
      headsDropped: new Counter({ name: 'gitconfig_replication_heads_dropped_total', help: 'Peer heads dropped because too many nodes had heads waiting for a fetch slot', registers }),
      fetches: new Counter({ name: 'gitconfig_replication_fetches_total', help: 'Pack fetches from peers, by result (ok or failed)', labelNames: ['result'], registers }),
      fetchBytes: new Counter({ name: 'gitconfig_replication_fetch_bytes_total', help: 'Pack bytes received from peers', registers }),
      merges: new Counter({ name: 'gitconfig_replication_merges_total', help: 'Peer heads merged into main, by outcome (contained, fast-forward, merged)', labelNames: ['outcome'], registers }),
      mergesRefused: new Counter({ name: 'gitconfig_replication_merges_refused_total', help: 'Peer or remote heads that could not be merged, by reason (malformed: beyond a merge limit or invalid; other)', labelNames: ['reason'], registers }),
      remoteSyncs: new Counter({ name: 'gitconfig_replication_remote_syncs_total', help: 'Shared-remote sync rounds, by result (ok or failed)', labelNames: ['result'], registers })
    }
    // Registered in the registry and read on scrape; nothing else needs a reference to it.
    new Gauge({
      name: 'gitconfig_keys',
      help: 'Live keys in the store (absent when the store cannot count them)',
      registers,
      async collect () {
        const n = await sources.keyCount()
        if (n !== null) this.set(n)
      }
    })
  }

  /**
   * One answered HTTP request: `route` is the route pattern (bounded cardinality), never the raw URL. A null
   * latency counts the request only (an SSE stream, whose duration is the client's choice).
   */
  observeRequest (route: string, method: string, status: number, elapsedMs: number | null): void {
    const id = `${route} ${method} ${status}`
    let child = this.requestChildren.get(id)
    if (child === undefined) {
      child = {
        count: this.httpRequests.labels(route, method, String(status)),
        latency: this.httpDuration.labels(route, method)
      }
      if (this.requestChildren.size < metricsLabelSetsMax) this.requestChildren.set(id, child)
    }
    child.count.inc()
    if (elapsedMs !== null) child.latency.observe(elapsedMs / 1000)
  }

  /** A commit reported by the store's commit event. */
  observeCommit (changes: number): void {
    this.commits.inc()
    this.batchSize.observe(changes)
  }
}
