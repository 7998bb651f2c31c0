// Public entry point of the `gitconfig` package: the embedded store, its types and the typed errors.
export { GitConfigStore } from './gitstore/store.js'
export type { GitConfigStoreOptions, CommitEvent } from './gitstore/store.js'
export * from './types.js'
export { GitConfigError, isGitConfigError, errorCodes } from './errors.js'
export { GitConfigClient } from './client/client.js'
export type { ErrorCode } from './errors.js'
