// The one wire and disk format of the Raft core, and the validation of messages at the boundary.
// `parseMessage` turns any value into a well-formed Message or undefined: RawNode.step() calls it on everything it
// is given, so a malformed or hostile message is dropped before the state machine sees it and never throws.
// On the wire a message is JSON with byte fields in base64.
import { fromString, toString } from 'uint8arrays'
import {
  raftEntriesPerMessageMax, raftEntryBytesMax, raftLearnersMax, raftReadContextBytesMax, raftSnapshotBytesMax,
  raftVotersMax
} from '../limits.js'
import { isValidNodeId } from './config.js'
import { messageTypes } from './types.js'
import type { ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot } from './types.js'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const messageTypeSet = new Set<string>(messageTypes)

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isIndex (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function bytesToJson (b: Uint8Array): string { return toString(b, 'base64') }

function bytesFromJson (v: unknown, maxBytes: number): Uint8Array | undefined {
  if (typeof v !== 'string' || v.length > Math.ceil(maxBytes / 3) * 4 + 4) return undefined
  try {
    return fromString(v, 'base64')
  } catch {
    return undefined
  }
}

// ---- shape validation of in-memory values --------------------------------------------------------------------

function parseBytes (v: unknown, maxBytes: number): Uint8Array | undefined {
  return v instanceof Uint8Array && v.byteLength <= maxBytes ? v : undefined
}

export function parseEntry (v: unknown): Entry | undefined {
  if (!isRecord(v)) return undefined
  const { term, index, type, data } = v
  if (!isIndex(term) || !isIndex(index)) return undefined
  if (type !== 'normal' && type !== 'confChange') return undefined
  const bytes = parseBytes(data, raftEntryBytesMax)
  if (bytes === undefined) return undefined
  return { term, index, type: type as EntryType, data: bytes }
}

function parseNodeList (v: unknown, max: number): string[] | undefined {
  if (!Array.isArray(v) || v.length > max || !v.every(isValidNodeId)) return undefined
  return v.slice()
}

export function parseConfState (v: unknown): ConfState | undefined {
  if (!isRecord(v)) return undefined
  const voters = parseNodeList(v.voters, raftVotersMax)
  const learners = parseNodeList(v.learners, raftLearnersMax)
  if (voters === undefined || learners === undefined) return undefined
  return { voters, learners }
}

export function parseSnapshot (v: unknown): Snapshot | undefined {
  if (!isRecord(v) || !isRecord(v.metadata)) return undefined
  const { index, term, confState } = v.metadata
  if (!isIndex(index) || !isIndex(term)) return undefined
  const cs = parseConfState(confState)
  const data = parseBytes(v.data, raftSnapshotBytesMax)
  if (cs === undefined || data === undefined) return undefined
  return { metadata: { index, term, confState: cs }, data }
}

/** Checks that the entries of an append follow `index` contiguously with terms in order (Raft §5.3). */
function entriesFitAppend (m: { index: number, logTerm: number, term: number }, entries: readonly Entry[]): boolean {
  let prevTerm = m.logTerm
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
    if (e.index !== m.index + 1 + i || e.term < prevTerm || e.term > m.term || e.term === 0) return false
    prevTerm = e.term
  }
  return true
}

/** The term-less message types: forwarded requests that the leader treats as local. */
const termless = new Set<MessageType>(['prop', 'readIndex', 'transferLeader'])

export function parseMessage (v: unknown): Message | undefined {
  if (!isRecord(v)) return undefined
  const { type, from, to, term, logTerm, index, commit, reject, rejectHint, transfer } = v
  if (typeof type !== 'string' || !messageTypeSet.has(type)) return undefined
  const mtype = type as MessageType
  if (!isValidNodeId(from) || !isValidNodeId(to) || from === to) return undefined
  if (!isIndex(term) || !isIndex(logTerm) || !isIndex(index) || !isIndex(commit) || !isIndex(rejectHint)) return undefined
  if (typeof reject !== 'boolean' || typeof transfer !== 'boolean') return undefined
  if (termless.has(mtype) ? term !== 0 : term === 0) return undefined
  if (!Array.isArray(v.entries) || v.entries.length > raftEntriesPerMessageMax) return undefined
  const entries: Entry[] = []
  for (const raw of v.entries) {
    const e = parseEntry(raw)
    if (e === undefined) return undefined
    entries.push(e)
  }
  if (mtype === 'app' && !entriesFitAppend({ index, logTerm, term }, entries)) return undefined
  if (mtype !== 'app' && mtype !== 'prop' && entries.length > 0) return undefined
  let snapshot: Snapshot | null = null
  if (v.snapshot !== null && v.snapshot !== undefined) {
    const s = parseSnapshot(v.snapshot)
    if (s === undefined) return undefined
    snapshot = s
  }
  if (mtype === 'snap' && (snapshot === null || snapshot.metadata.index === 0 || snapshot.metadata.term > term)) return undefined
  let context: Uint8Array | null = null
  if (v.context !== null && v.context !== undefined) {
    const c = parseBytes(v.context, raftReadContextBytesMax)
    if (c === undefined) return undefined
    context = c
  }
  if ((mtype === 'readIndex' || mtype === 'readIndexResp') && context === null) return undefined
  return { type: mtype, from, to, term, logTerm, index, entries, commit, reject, rejectHint, snapshot, context, transfer }
}

// ---- JSON wire / disk encoding ---------------------------------------------------------------------------------

function entryToJson (e: Entry): Json {
  return { term: e.term, index: e.index, type: e.type, data: bytesToJson(e.data) }
}

function entryFromJson (v: unknown): unknown {
  if (!isRecord(v)) return undefined
  return { ...v, data: bytesFromJson(v.data, raftEntryBytesMax) }
}

function snapshotToJson (s: Snapshot): Json {
  const { index, term, confState } = s.metadata
  return {
    metadata: { index, term, confState: { voters: [...confState.voters], learners: [...confState.learners] } },
    data: bytesToJson(s.data)
  }
}

function snapshotFromJson (v: unknown): unknown {
  if (!isRecord(v)) return undefined
  return { ...v, data: bytesFromJson(v.data, raftSnapshotBytesMax) }
}

export function encodeMessage (m: Message): Uint8Array {
  const json: Json = {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(entryToJson),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    snapshot: m.snapshot === null ? null : snapshotToJson(m.snapshot),
    context: m.context === null ? null : bytesToJson(m.context),
    transfer: m.transfer
  }
  return encoder.encode(JSON.stringify(json))
}

function parseJson (bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes))
  } catch {
    return undefined
  }
}

/** Decodes and validates a message from the wire; undefined when malformed. */
export function decodeMessage (bytes: Uint8Array): Message | undefined {
  const v = parseJson(bytes)
  if (!isRecord(v)) return undefined
  const entries = Array.isArray(v.entries) ? v.entries.map(entryFromJson) : v.entries
  const snapshot = v.snapshot === null || v.snapshot === undefined ? null : snapshotFromJson(v.snapshot)
  const context = v.context === null || v.context === undefined ? null : bytesFromJson(v.context, raftReadContextBytesMax)
  return parseMessage({ ...v, entries, snapshot, context })
}

export function encodeEntry (e: Entry): Uint8Array {
  return encoder.encode(JSON.stringify(entryToJson(e)))
}

export function decodeEntry (bytes: Uint8Array): Entry | undefined {
  return parseEntry(entryFromJson(parseJson(bytes)))
}

export function encodeSnapshot (s: Snapshot): Uint8Array {
  return encoder.encode(JSON.stringify(snapshotToJson(s)))
}

export function decodeSnapshot (bytes: Uint8Array): Snapshot | undefined {
  return parseSnapshot(snapshotFromJson(parseJson(bytes)))
}

export function encodeHardState (hs: HardState): Uint8Array {
  return encoder.encode(JSON.stringify({ term: hs.term, vote: hs.vote, commit: hs.commit }))
}

export function decodeHardState (bytes: Uint8Array): HardState | undefined {
  const v = parseJson(bytes)
  if (!isRecord(v)) return undefined
  const { term, vote, commit } = v
  if (!isIndex(term) || !isIndex(commit) || typeof vote !== 'string') return undefined
  return { term, vote, commit }
}
