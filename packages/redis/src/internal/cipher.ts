/**
 * AES-256-GCM sealing of stored token sets with WebCrypto (`globalThis.crypto.subtle`, present in
 * Node 20+, Deno, Bun and browsers), so the package needs no native crypto binding.
 *
 * A sealed value is `1:` followed by base64 of a random 96-bit IV and the ciphertext with its
 * 128-bit tag. The additional authenticated data names the Redis key and the entry's version:
 * a blob copied to another key, or put back under another version, fails to open.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/** What an entry starts with: sealed, or stored in clear text by a store that opted out. */
export const sealedTag = "1:"
export const clearTag = "0:"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The additional authenticated data of the entry at `redisKey`, version `version`. */
const associated = (redisKey: string, version: number): Uint8Array<ArrayBuffer> =>
  own(encoder.encode(`effect-auth/redis\n${redisKey}\n${version}`))

/** A copy over a plain `ArrayBuffer`, which is what WebCrypto's signatures accept. */
const own = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => {
  const copy = new Uint8Array(bytes.length)
  copy.set(bytes)
  return copy
}

/**
 * Decodes a configured key: base64 (standard or URL-safe) of exactly 32 bytes. `None` when the
 * value is anything else; the caller says so without quoting it.
 */
export const decodeKey = (key: Redacted.Redacted<string>): Option.Option<Uint8Array> =>
  Either.getRight(Encoding.decodeBase64(Redacted.value(key).trim())).pipe(
    Option.orElse(() => Either.getRight(Encoding.decodeBase64Url(Redacted.value(key).trim()))),
    Option.filter((bytes) => bytes.length === 32)
  )

/** Imports raw key bytes as a non-extractable AES-GCM key. */
export const importKey = (bytes: Uint8Array): Effect.Effect<CryptoKey, Error> =>
  Effect.tryPromise({
    try: () =>
      globalThis.crypto.subtle.importKey("raw", own(bytes), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]),
    catch: () => new Error("the encryption key could not be imported")
  })

/** Seals `plaintext` for the entry at `redisKey`, version `version`, with a fresh IV. */
export const seal = (
  key: CryptoKey,
  redisKey: string,
  version: number,
  plaintext: string
): Effect.Effect<string, Error> =>
  Effect.tryPromise({
    try: async () => {
      const iv = globalThis.crypto.getRandomValues(new Uint8Array(12))
      const sealed = new Uint8Array(
        await globalThis.crypto.subtle.encrypt(
          { name: "AES-GCM", iv, additionalData: associated(redisKey, version) },
          key,
          own(encoder.encode(plaintext))
        )
      )
      const out = new Uint8Array(iv.length + sealed.length)
      out.set(iv, 0)
      out.set(sealed, iv.length)
      return sealedTag + Encoding.encodeBase64(out)
    },
    catch: () => new Error("the token set could not be encrypted")
  })

/**
 * Opens a sealed entry. Fails when the blob was not sealed with this key for this Redis key and
 * version (a wrong key, a blob moved or rolled back, or tampering: GCM cannot tell them apart).
 */
export const open = (
  key: CryptoKey,
  redisKey: string,
  version: number,
  blob: string
): Effect.Effect<string, Error> =>
  Effect.gen(function*() {
    const decoded = yield* Either.mapLeft(
      Encoding.decodeBase64(blob.slice(sealedTag.length)),
      () => new Error("the stored value is not a sealed token set")
    )
    const bytes = own(decoded)
    if (bytes.length < 12 + 16) return yield* Effect.fail(new Error("the stored value is not a sealed token set"))
    return yield* Effect.tryPromise({
      try: async () =>
        decoder.decode(
          await globalThis.crypto.subtle.decrypt(
            { name: "AES-GCM", iv: bytes.subarray(0, 12), additionalData: associated(redisKey, version) },
            key,
            bytes.subarray(12)
          )
        ),
      catch: () =>
        new Error("the stored value could not be decrypted (another key, another entry's value, or tampered with)")
    })
  })
