// Public surface of the p2p layer, for the node. Importing it loads the polyfill before libp2p (host.ts does).
export { createP2pHost, P2pHost } from './host.js'
export type { HeadEvent, MessageEvent, PeerInfo, P2pHostEvents, HostFetchOptions } from './host.js'
export { fetchProtocol, headsProtocol, headsTopic, peersProtocol, raftProtocol } from './protocols.js'
export type { FetchResponder } from './fetch.js'
export type { HeadAnnouncement, FetchRequest, PeerRecord } from './messages.js'
export type { P2pHostOptions, LocalHeadsProvider } from './options.js'
export type { P2pCounters, P2pCounterName } from './stats.js'
export { loadOrCreatePrivateKey } from './identity.js'
