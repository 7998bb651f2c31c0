// Transport security and access control of the HTTP API, both optional: TLS from a certificate and key file, and a
// bearer token that every request but /health must carry (a load balancer's health check needs no secret). The
// files are read once at start; a bad one stops the node with a message naming it (decision 0320).
import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { readConfigFile } from '../config-file.js'
import { GitConfigError } from '../errors.js'
import { apiTokenBytesMin } from '../limits.js'

export interface HttpSecurityFiles {
  readonly tlsCertFile?: string
  readonly tlsKeyFile?: string
  readonly authTokenFile?: string
}

export interface HttpSecurity {
  readonly tls: { readonly cert: Buffer, readonly key: Buffer } | null
  readonly authToken: Buffer | null
}

export async function loadHttpSecurity (files: HttpSecurityFiles): Promise<HttpSecurity> {
  let tls: HttpSecurity['tls'] = null
  if (files.tlsCertFile !== undefined && files.tlsKeyFile !== undefined) {
    const cert = await readConfigFile(files.tlsCertFile, 'TLS certificate')
    const key = await readConfigFile(files.tlsKeyFile, 'TLS key')
    if (!cert.includes('-----BEGIN CERTIFICATE-----')) {
      throw new GitConfigError('INVALID_ARGUMENT', `${files.tlsCertFile} is not a PEM certificate`)
    }
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) {
      throw new GitConfigError('INVALID_ARGUMENT', `${files.tlsKeyFile} is not a PEM private key`)
    }
    tls = { cert, key }
  }
  let authToken: Buffer | null = null
  if (files.authTokenFile !== undefined) {
    const token = (await readConfigFile(files.authTokenFile, 'API token')).toString('utf8').trim()
    if (Buffer.byteLength(token) < apiTokenBytesMin || !/^[\x21-\x7e]+$/.test(token)) {
      throw new GitConfigError('INVALID_ARGUMENT', `the API token in ${files.authTokenFile} must be at least ` +
        `${apiTokenBytesMin} printable ASCII characters without spaces (e.g. \`openssl rand -hex 32\`)`)
    }
    authToken = Buffer.from(token)
  }
  return { tls, authToken }
}

/** Throws UNAUTHENTICATED unless the request carries the token (`Authorization: Bearer <token>`); /health is open. */
export function checkAuthorization (security: HttpSecurity, request: FastifyRequest): void {
  if (security.authToken === null) return
  const path = request.url.split('?', 1)[0]
  if (path === '/health') return
  const header = request.headers.authorization
  const presented = typeof header === 'string' && header.startsWith('Bearer ') ? Buffer.from(header.slice(7).trim()) : null
  // Constant time in the token's content; its length is not secret.
  if (presented === null || presented.length !== security.authToken.length || !timingSafeEqual(presented, security.authToken)) {
    throw new GitConfigError('UNAUTHENTICATED', presented === null
      ? 'this node requires an API token: send "Authorization: Bearer <token>" (CLI: GITCONFIG_TOKEN or --token-file)'
      : 'the API token is not valid for this node')
  }
}
