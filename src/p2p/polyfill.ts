// Node 20 has no Promise.withResolvers (it arrived in Node 22), yet libp2p 3, yamux, noise, tcp, gossipsub and their
// queue helpers call it; without it the first peer-store write throws. This module must be imported before any
// libp2p package is evaluated: ES modules evaluate imports in order, so host.ts imports it first.

interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

type WithResolvers = <T>() => Resolvers<T>

const promiseConstructor = Promise as unknown as { withResolvers?: WithResolvers }

if (typeof promiseConstructor.withResolvers !== 'function') {
  promiseConstructor.withResolvers = function withResolvers<T> (): Resolvers<T> {
    let resolve!: Resolvers<T>['resolve']
    let reject!: Resolvers<T>['reject']
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

export {}
