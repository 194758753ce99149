/**
 * Where sessions keep their tokens, keyed by session key, so that a rotated refresh token
 * survives a restart and instances sharing a store converge on one token family.
 *
 * Every write is a compare-and-set on a version number: a session writes "version n + 1, given
 * that the entry is still at version n", and learns from a `VersionConflict` that another
 * instance wrote first. The version is the fencing token of the refresh lease: a session holds
 * `lease(key)` while it refreshes, so sessions sharing the store wait for it and adopt what it
 * wrote instead of spending the same refresh token twice; a holder whose lease lapsed still
 * cannot overwrite a newer entry, because its write names an older version.
 *
 * `layerMemory` is the default; `layerKeyValueStore` persists through `@effect/platform`'s
 * `KeyValueStore` (for example `KeyValueStore.layerFileSystem(directory)`). Both lease within
 * one process; `@effect-auth/redis` leases and notifies across processes.
 *
 * @since 0.1.0
 */
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { digest } from "./internal/digest.js"
import { TaggedError } from "./internal/error.js"
import * as TokenSet from "./TokenSet.js"

/**
 * A token set as the store holds it. `version` grows with every write to the key (by one in the
 * memory and `KeyValueStore` stores; a Redis store may skip ahead) and never repeats, not even
 * after a `remove`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stored {
  readonly tokens: TokenSet.TokenSet
  readonly version: number
}

/**
 * The store could not be read or written. `description` says why in words this library wrote
 * or the platform gave; it never contains the stored value.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenStoreError extends /*#__PURE__*/ TaggedError<TokenStoreError>()(
  "TokenStoreError",
  {
    operation: /*#__PURE__*/ Schema.Literal("get", "set", "remove", "lease", "subscribe"),
    key: Schema.String,
    description: Schema.String
  }
) {
  override get message(): string {
    return `token store ${this.operation} "${this.key}" failed: ${this.description}`
  }
}

/**
 * A compare-and-set lost: the entry is no longer at the version the writer based its tokens on,
 * because another instance wrote (or removed) it in the meantime. `undefined` stands for "no
 * entry".
 *
 * @since 0.1.0
 * @category errors
 */
export class VersionConflict extends /*#__PURE__*/ TaggedError<VersionConflict>()(
  "VersionConflict",
  {
    key: Schema.String,
    expected: /*#__PURE__*/ Schema.optional(Schema.Number),
    actual: /*#__PURE__*/ Schema.optional(Schema.Number)
  }
) {
  override get message(): string {
    const show = (version: number | undefined) => version === undefined ? "no entry" : `version ${version}`
    return `token store entry "${this.key}" changed: expected ${show(this.expected)}, found ${show(this.actual)}`
  }
}

/**
 * The operations of a token store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The entry under `key`, if any. */
  readonly get: (key: string) => Effect.Effect<Option.Option<Stored>, TokenStoreError>
  /**
   * Writes `tokens` under `key` if the entry is still at `expectedVersion` (`undefined`: if
   * there is no entry), and returns the new entry; fails with `VersionConflict` otherwise.
   */
  readonly set: (
    key: string,
    tokens: TokenSet.TokenSet,
    expectedVersion: number | undefined
  ) => Effect.Effect<Stored, TokenStoreError | VersionConflict>
  /** Forgets the tokens under `key`. */
  readonly remove: (key: string) => Effect.Effect<void, TokenStoreError>
  /**
   * Holds the refresh lease on `key` from when this effect succeeds until the scope closes,
   * waiting while another holder has it. Sessions take it around "read the store, refresh,
   * write the store", so that of several sessions sharing one identity only one presents the
   * refresh token and the others find its result when their turn comes.
   *
   * The lease is an optimisation of coordination, not what keeps the store consistent: the
   * version compare-and-set of `set` does that. It fails only when it could not be acquired
   * (the store is unreachable); the session then goes on without it.
   */
  readonly lease: (key: string) => Effect.Effect<void, TokenStoreError, Scope.Scope>
  /**
   * Calls `onChange` with the entry each time another writer changes `key`, for as long as the
   * scope lives, so that a session adopts a token another instance refreshed and re-arms its
   * own refresh to the new expiry. A store that cannot notify returns at once and never calls.
   */
  readonly subscribe: (
    key: string,
    onChange: (stored: Stored) => Effect.Effect<void>
  ) => Effect.Effect<void, TokenStoreError, Scope.Scope>
}

/**
 * What `make` needs: the three operations. `lease` defaults to a lease within this process (see
 * `makeLocalLease`) and `subscribe` to none.
 *
 * @since 0.1.0
 * @category models
 */
export interface Operations extends Pick<Service, "get" | "set" | "remove"> {
  readonly lease?: Service["lease"] | undefined
  readonly subscribe?: Service["subscribe"] | undefined
}

/**
 * A store from its operations, with an in-process lease and no notification unless given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (operations: Operations): Service => ({
  get: operations.get,
  set: operations.set,
  remove: operations.remove,
  lease: operations.lease ?? makeLocalLease(),
  subscribe: operations.subscribe ?? (() => Effect.void)
})

/**
 * A refresh lease per key for the fibers of this process: a FIFO mutex per key, dropped when
 * nobody holds or waits for it. A holder cannot lapse (its fiber either finishes or is
 * interrupted, and both release), so no time limit is needed here.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeLocalLease = (): Service["lease"] => {
  const locks = new Map<string, { readonly semaphore: Effect.Semaphore; users: number }>()
  const leave = (key: string, lock: { readonly semaphore: Effect.Semaphore; users: number }) =>
    Effect.sync(() => {
      if (--lock.users === 0 && locks.get(key) === lock) locks.delete(key)
    })
  return (key) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        let lock = locks.get(key)
        if (lock === undefined) locks.set(key, lock = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 })
        lock.users++
        const held = lock
        return restore(held.semaphore.take(1)).pipe(
          Effect.onInterrupt(() => leave(key, held)),
          Effect.zipRight(Effect.addFinalizer(() => Effect.zipRight(held.semaphore.release(1), leave(key, held))))
        )
      })
    )
}

/**
 * A short, stable fingerprint of an identifying value (an API key, a configured refresh token),
 * for store keys that tell identities apart without holding the value: 16 hex digits of a
 * 64-bit hash. It is not a cryptographic hash; it is meant for values with the entropy of a
 * credential, which it does not let anyone recover.
 *
 * @since 0.1.0
 * @category keys
 */
export const fingerprint = (value: string): string => digest(value)

/**
 * The token store a session uses. Without one in the context, each session keeps its tokens in
 * a private in-memory store.
 *
 * @since 0.1.0
 * @category tags
 */
export class TokenStore extends /*#__PURE__*/ Context.Tag("@effect-auth/core/TokenStore")<TokenStore, Service>() {}

/**
 * What the in-memory store keeps per key: `tokens` is `undefined` once removed, so that the
 * version keeps counting and a writer holding a pre-removal version still conflicts.
 */
interface Slot {
  readonly tokens: TokenSet.TokenSet | undefined
  readonly version: number
}

/**
 * An in-memory store, synchronously. Each operation is a single synchronous step, which makes
 * the compare-and-set atomic.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMakeMemory = (): Service => {
  const slots = new Map<string, Slot>()
  const listeners = new Map<string, Set<(stored: Stored) => Effect.Effect<void>>>()
  const notify = (key: string, stored: Stored): Effect.Effect<void> => {
    const current = listeners.get(key)
    return current === undefined
      ? Effect.void
      : Effect.forEach(Array.from(current), (onChange) => onChange(stored), { discard: true })
  }
  const read = (key: string): Option.Option<Stored> => {
    const slot = slots.get(key)
    return slot === undefined || slot.tokens === undefined
      ? Option.none()
      : Option.some({ tokens: slot.tokens, version: slot.version })
  }
  return make({
    get: (key) => Effect.sync(() => read(key)),
    set: (key, tokens, expectedVersion) =>
      Effect.suspend(() => {
        const slot = slots.get(key)
        const actual = slot === undefined || slot.tokens === undefined ? undefined : slot.version
        if (actual !== expectedVersion) {
          return Effect.fail(new VersionConflict({ key, expected: expectedVersion, actual }))
        }
        const stored: Stored = { tokens, version: (slot?.version ?? 0) + 1 }
        slots.set(key, stored)
        return Effect.as(notify(key, stored), stored)
      }),
    remove: (key) =>
      Effect.sync(() => {
        const slot = slots.get(key)
        if (slot !== undefined && slot.tokens !== undefined) {
          slots.set(key, { tokens: undefined, version: slot.version + 1 })
        }
      }),
    // Listeners are called by the writer, after its write: the writer's own session sees its
    // own version come back and ignores it.
    subscribe: (key, onChange) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          let set = listeners.get(key)
          if (set === undefined) listeners.set(key, set = new Set())
          set.add(onChange)
        }),
        () =>
          Effect.sync(() => {
            const set = listeners.get(key)
            if (set !== undefined && set.delete(onChange) && set.size === 0) listeners.delete(key)
          })
      )
  })
}

/**
 * An in-memory store, shared by every session that uses the same instance.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = /*#__PURE__*/ Effect.sync(unsafeMakeMemory)

/**
 * An in-memory token store (the default). Sessions in one process that share this layer share
 * their tokens; nothing survives the process.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<TokenStore> = /*#__PURE__*/ Layer.effect(TokenStore, makeMemory)

/**
 * The JSON document kept per key: the version and the Schema-encoded token set (whose secrets
 * encode to plain strings), or `null` once removed.
 */
const Entry = /*#__PURE__*/ Schema.parseJson(/*#__PURE__*/ Schema.Struct({
  version: Schema.Number,
  tokens: /*#__PURE__*/ Schema.NullOr(TokenSet.TokenSet)
}))
const decodeEntry = /*#__PURE__*/ Schema.decodeUnknown(Entry)
const encodeEntry = /*#__PURE__*/ Schema.encode(Entry)

/**
 * Options of `makeKeyValueStore`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyValueStoreOptions {
  /** Prepended to every session key. Default: `"effect-auth."`. */
  readonly prefix?: string | undefined
}

/**
 * A token store over a `KeyValueStore`. Each key holds a JSON document with the version and the
 * encoded token set; `remove` leaves the version behind (with no tokens) so versions never
 * repeat.
 *
 * The compare-and-set (read, compare, write) is serialised by a semaphore inside this store, so
 * it is atomic for every session in the process that shares the layer. Across processes it is
 * only as atomic as the underlying store: a plain directory (`layerFileSystem`) is not, so
 * instances in several processes need a `KeyValueStore` with an atomic compare-and-set of its
 * own. The files hold the tokens in clear text: give the directory owner-only permissions.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeKeyValueStore = (
  options?: KeyValueStoreOptions
): Effect.Effect<Service, never, KeyValueStore.KeyValueStore> =>
  Effect.gen(function*() {
    const kv = yield* KeyValueStore.KeyValueStore
    const lock = yield* Effect.makeSemaphore(1)
    const prefix = options?.prefix ?? "effect-auth."

    const failure = (operation: TokenStoreError["operation"], key: string) => (error: { readonly message: string }) =>
      new TokenStoreError({ operation, key, description: error.message })

    // A parse error would quote the offending value, which may be a token: say only what failed.
    // `lenient` reads treat an unreadable entry as absent, so that a write can replace it.
    const readEntry = (
      operation: TokenStoreError["operation"],
      key: string,
      lenient: boolean
    ): Effect.Effect<Option.Option<typeof Entry.Type>, TokenStoreError> =>
      kv.get(prefix + key).pipe(
        Effect.mapError(failure(operation, key)),
        Effect.flatMap(Option.match({
          onNone: () => Effect.succeed(Option.none()),
          onSome: (text) =>
            decodeEntry(text).pipe(
              Effect.map((entry) => Option.some(entry)),
              Effect.catchAll(() =>
                lenient
                  ? Effect.succeed(Option.none())
                  : new TokenStoreError({ operation, key, description: "the stored value is not a token set" })
              )
            )
        }))
      )

    const writeEntry = (
      operation: TokenStoreError["operation"],
      key: string,
      entry: { readonly version: number; readonly tokens: TokenSet.TokenSet | null }
    ) =>
      encodeEntry(entry).pipe(
        Effect.mapError(() =>
          new TokenStoreError({ operation, key, description: "the token set could not be encoded" })
        ),
        Effect.flatMap((text) => Effect.mapError(kv.set(prefix + key, text), failure(operation, key)))
      )

    const get: Service["get"] = (key) =>
      readEntry("get", key, false).pipe(
        Effect.map(
          Option.flatMap((entry) =>
            entry.tokens === null ? Option.none() : Option.some({ tokens: entry.tokens, version: entry.version })
          )
        )
      )

    const set: Service["set"] = (key, tokens, expectedVersion) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const entry = yield* readEntry("set", key, true)
        const previous = Option.getOrUndefined(entry)
        const actual = previous === undefined || previous.tokens === null ? undefined : previous.version
        if (actual !== expectedVersion) {
          return yield* new VersionConflict({ key, expected: expectedVersion, actual })
        }
        const stored: Stored = { tokens, version: (previous?.version ?? 0) + 1 }
        yield* writeEntry("set", key, stored)
        return stored
      }))

    const remove: Service["remove"] = (key) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const entry = yield* readEntry("remove", key, true)
        if (Option.isSome(entry)) {
          if (entry.value.tokens !== null) {
            yield* writeEntry("remove", key, { version: entry.value.version + 1, tokens: null })
          }
        } else {
          // Absent, or unreadable: make sure nothing is left behind.
          const present = yield* Effect.mapError(kv.has(prefix + key), failure("remove", key))
          if (present) yield* Effect.mapError(kv.remove(prefix + key), failure("remove", key))
        }
      }))

    return make({ get, set, remove })
  })

/**
 * A token store over the `KeyValueStore` in the context (see `makeKeyValueStore`). With
 * `KeyValueStore.layerFileSystem(directory)` the tokens survive a restart.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKeyValueStore = (
  options?: KeyValueStoreOptions
): Layer.Layer<TokenStore, never, KeyValueStore.KeyValueStore> => Layer.effect(TokenStore, makeKeyValueStore(options))
