// Every limit of the system, named with its unit, in one place (STYLE.md: "a limit on everything").
// Defaults only: the configurable ones are validated and overridden at the edge (store options, node flags).

/** Maximum UTF-8 length of a normalised key (DESIGN.md: configurable, default 1024). */
export const keyBytesMaxDefault = 1024
/** Maximum value size (DESIGN.md: configurable, default 1 MiB). */
export const valueBytesMaxDefault = 1024 * 1024
/** Longest accepted TTL: ten years. */
export const ttlMsMax = 10 * 365 * 24 * 3600 * 1000
/** Longest author string recorded in a commit. */
export const authorBytesMax = 256
