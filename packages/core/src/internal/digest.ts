/**
 * A short, stable digest of a string, for labels and store keys that tell identities apart
 * without spelling them out.
 *
 * @internal
 */

const mix = Math.imul

/** The 32 bits of `lane` as 8 hex digits. */
const hex = (lane: number): string => (lane >>> 0).toString(16).padStart(8, "0")

/**
 * 64 bits of a fast, well-mixed (not cryptographic) hash, as 16 hex digits: two multiplicative
 * 32-bit lanes cross-mixed at the end. Enough that two identities of one application never share
 * a digest, cheap enough to compute for every session, and the same on every runtime (and in
 * every version: store keys are made of it).
 */
export const digest = (text: string): string => {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    h1 = mix(h1 ^ ch, 2654435761)
    h2 = mix(h2 ^ ch, 1597334677)
  }
  h1 = mix(h1 ^ (h1 >>> 16), 2246822507) ^ mix(h2 ^ (h2 >>> 13), 3266489909)
  h2 = mix(h2 ^ (h2 >>> 16), 2246822507) ^ mix(h1 ^ (h1 >>> 13), 3266489909)
  return hex(h2) + hex(h1)
}
