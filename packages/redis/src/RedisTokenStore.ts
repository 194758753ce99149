/**
 * A `TokenStore` on Redis, for many processes acting as one identity: replicas, workers and
 * cron jobs that share one Occam account, Cal.com managed user or EnduroSat operator.
 *
 * - Compare-and-set: every write is one Lua script that compares the entry's version and
 *   writes the new value, version and TTL together, then publishes the change. The version is
 *   the fencing token of the refresh lease: a writer whose lease lapsed names an older version
 *   and gets `VersionConflict`. Versions strictly increase and never repeat, not after a
 *   `remove`, an expiry, nor a Redis that lost its data (see `make`).
 * - Refresh lease across processes: `SET NX PX` with an owner id, renewed while held, released
 *   (and waiters woken) only by its owner. A holder that dies is replaced when its TTL ends.
 * - Change notification: a write publishes its version on the key's channel; every other
 *   process reads the entry and hands it to its session, which adopts it and re-arms its
 *   proactive refresh instead of refreshing again.
 * - Encryption at rest: AES-256-GCM (WebCrypto) with a key from `EFFECT_AUTH_REDIS_KEY`, a
 *   fresh IV per write and the Redis key and version as authenticated data. Opting out
 *   (`encryption: "none"`) stores the Schema-encoded token set in clear text.
 * - Redis down or slow: every call has a timeout and fails with a `TokenStoreError` that
 *   carries no value; the session keeps serving the token it holds and writes a rotated one
 *   when Redis answers again.
 *
 * @since 0.1.0
 */
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as TokenStore from "@effect-auth/core/TokenStore"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import * as Cipher from "./internal/cipher.js"
import * as Hub from "./internal/hub.js"
import * as Scripts from "./internal/scripts.js"

/**
 * How the store keeps tokens at rest: sealed with an AES-256 key (base64 of 32 random bytes),
 * or `"none"` to store them in clear text.
 *
 * @since 0.1.0
 * @category models
 */
export type Encryption = "none" | { readonly key: Redacted.Redacted<string> }

/**
 * Options of the store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Prepended to every Redis key and channel the store uses. Default: `"effect-auth:"`. */
  readonly prefix?: string | undefined
  /**
   * The encryption at rest. Default: a key read from `EFFECT_AUTH_REDIS_KEY` (see
   * `encryptionConfig`); without one the store cannot be built, so tokens never reach Redis in
   * clear text by accident.
   */
  readonly encryption?: Encryption | undefined
  /** The longest any single Redis call may take before it fails. Default: 1 second. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * How long a lease lives unless its holder renews it (every third of it while held). Make it
   * longer than one refresh normally takes: a holder that dies is replaced after this long.
   * Default: 10 seconds.
   */
  readonly leaseTtl?: Duration.DurationInput | undefined
  /**
   * The longest a session waits for a lease another process holds; then it proceeds without
   * the lease (the version still decides which write wins). Default: 30 seconds.
   */
  readonly leaseWait?: Duration.DurationInput | undefined
  /**
   * How often a waiter looks at a held lease, besides being woken by its release. Default: 50
   * milliseconds.
   */
  readonly leasePollInterval?: Duration.DurationInput | undefined
  /**
   * The TTL of an entry whose lifetime is unknown (a refresh token without an expiry, or a
   * token set with no expiry at all). `Duration.infinity` keeps such entries until removed.
   * Default: 30 days.
   */
  readonly defaultTtl?: Duration.DurationInput | undefined
  /**
   * A label put in front of the random owner id of each lease this store takes (such as a host
   * name and process id), so that an operator looking at a lease key can tell who holds it.
   */
  readonly owner?: string | undefined
}

/**
 * `EFFECT_AUTH_REDIS_KEY`: the AES-256 key, base64 of 32 random bytes, read as a secret. Make
 * one with `node -e "console.log(crypto.randomBytes(32).toString('base64'))"`.
 *
 * @since 0.1.0
 * @category config
 */
export const encryptionConfig: Config.Config<Encryption> = Config.map(
  Config.redacted("EFFECT_AUTH_REDIS_KEY"),
  (key): Encryption => ({ key })
)

/**
 * `REDIS_URL`, read as a secret because it may carry a password: `redis://[:password@]host[:port][/db]`,
 * or `rediss://...` for TLS.
 *
 * @since 0.1.0
 * @category config
 */
export const urlConfig: Config.Config<Redacted.Redacted<string>> = Config.redacted("REDIS_URL")

/**
 * The Redis keys and the channel of one session key. They share a hash tag so that a Redis
 * Cluster keeps them in one slot; the fixed suffixes keep two session keys from colliding.
 *
 * @since 0.1.0
 * @category models
 */
export interface Keys {
  /** A hash: `v` the version, `d` the (sealed) token set. Expires with the token set. */
  readonly entry: string
  /** The highest version given so far; outlives the entry so versions never repeat. */
  readonly version: string
  /** The refresh lease: its value is the holder's owner id. */
  readonly lease: string
  /** Where writes, removes and lease releases are published. */
  readonly channel: string
}

/**
 * The Redis keys a store with `prefix` uses for `key`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const keysOf = (prefix: string, key: string): Keys => {
  const base = `${prefix}{${key}}`
  return { entry: `${base}:tokens`, version: `${base}:version`, lease: `${base}:lease`, channel: `${base}:changes` }
}

const TokenSetJson = Schema.parseJson(TokenSet.TokenSet)
const encodeTokens = Schema.encode(TokenSetJson)
const decodeTokens = Schema.decodeUnknown(TokenSetJson)

/** What a script or command answered, checked rather than cast. */
const isReply = (value: unknown): value is readonly [number, string] =>
  Array.isArray(value) && value.length === 2 && typeof value[0] === "number" && typeof value[1] === "string"

const isPair = (value: unknown): value is readonly [string | null, string | null] =>
  Array.isArray(value) && value.length === 2 &&
  value.every((item) => item === null || typeof item === "string")

/**
 * What a `TokenStoreError` says about a Redis failure: the first line of the client's message,
 * shortened. ioredis's messages name commands, states and addresses, never arguments, so no
 * stored value can appear in them.
 */
const describeFailure = (error: unknown): string => {
  const message = Predicate.hasProperty(error, "message") && typeof error.message === "string"
    ? error.message.split("\n")[0]
    : "unknown failure"
  return `Redis: ${message.length > 160 ? `${message.slice(0, 160)}...` : message}`
}

/** How a `TokenStoreError` for a call that timed out begins. */
const slowAnswer = "Redis did not answer within"

const randomId = (): string =>
  Array.from(globalThis.crypto.getRandomValues(new Uint8Array(12)), (byte) => byte.toString(16).padStart(2, "0"))
    .join("")

/**
 * A store over `client`, with a second connection (`client.duplicate()`) for notifications,
 * closed with the scope.
 *
 * Versions are proposed by the writer as the larger of `expected + 1` and its clock in
 * milliseconds, and accepted only above the highest version the key ever had: they strictly
 * increase, so a session compares them safely, and they keep increasing when Redis restarts
 * without its data (where a counter from 1 would hand out versions sessions already hold). They
 * are not consecutive.
 *
 * `client` is used as given. For calls that fail at once while Redis is unreachable, rather than
 * wait in ioredis's offline queue until the timeout, create it with `enableOfflineQueue: false`
 * and `maxRetriesPerRequest: 0`, as `layerConfig` does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  client: Redis,
  options: Options = {}
): Effect.Effect<TokenStore.Service, ConfigError.ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "effect-auth:"
    const timeout = Duration.decode(options.timeout ?? Duration.seconds(1))
    const leaseTtl = Math.max(1, Math.round(Duration.toMillis(options.leaseTtl ?? Duration.seconds(10))))
    const leaseWait = Duration.toMillis(options.leaseWait ?? Duration.seconds(30))
    const pollInterval = Duration.decode(options.leasePollInterval ?? Duration.millis(50))
    const defaultTtl = Duration.toMillis(options.defaultTtl ?? Duration.days(30))
    const ownerLabel = options.owner ?? "effect-auth"

    const encryption = options.encryption ?? (yield* encryptionConfig)
    const cryptoKey = encryption === "none" ? undefined : yield* Option.match(Cipher.decodeKey(encryption.key), {
      onNone: () =>
        Effect.fail(
          ConfigError.InvalidData(["EFFECT_AUTH_REDIS_KEY"], "expected base64 of exactly 32 bytes (an AES-256 key)")
        ),
      onSome: (bytes) => Effect.orDie(Cipher.importKey(bytes))
    })

    // Connected now whatever the application's client says (`lazyConnect`): a subscriber that
    // waits for a first command would never receive anything.
    const subscriber = client.duplicate({ autoResubscribe: false, enableOfflineQueue: false, lazyConnect: false })
    // Without a listener ioredis prints every connection error; the store reports failures as
    // typed errors on the calls instead.
    subscriber.on("error", () => undefined)
    yield* Effect.addFinalizer(() => Effect.sync(() => subscriber.disconnect()))
    const hub = yield* Hub.make(subscriber, timeout)

    const shas = yield* Effect.promise(() =>
      Promise.all([Scripts.set, Scripts.remove, Scripts.acquire, Scripts.renew, Scripts.release].map(Scripts.sha1))
    )
    const scripts = {
      set: { source: Scripts.set, sha: shas[0] },
      remove: { source: Scripts.remove, sha: shas[1] },
      acquire: { source: Scripts.acquire, sha: shas[2] },
      renew: { source: Scripts.renew, sha: shas[3] },
      release: { source: Scripts.release, sha: shas[4] }
    }

    const failed = (operation: TokenStore.TokenStoreError["operation"], key: string, description: string) =>
      new TokenStore.TokenStoreError({ operation, key, description })

    /** One Redis call: typed failure, bounded time. */
    const call = <A>(
      operation: TokenStore.TokenStoreError["operation"],
      key: string,
      run: () => Promise<A>
    ): Effect.Effect<A, TokenStore.TokenStoreError> =>
      Effect.tryPromise({ try: run, catch: (error) => failed(operation, key, describeFailure(error)) }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => failed(operation, key, `${slowAnswer} ${Duration.format(timeout)}`)
        })
      )

    /** A script by its SHA, loading it on a server that does not know it (a new or restarted one). */
    const evaluate = (
      operation: TokenStore.TokenStoreError["operation"],
      key: string,
      script: { readonly source: string; readonly sha: string },
      keys: ReadonlyArray<string>,
      args: ReadonlyArray<string>
    ): Effect.Effect<unknown, TokenStore.TokenStoreError> =>
      call(operation, key, async (): Promise<unknown> => {
        try {
          return await client.evalsha(script.sha, keys.length, ...keys, ...args)
        } catch (error) {
          if (Predicate.hasProperty(error, "message") && String(error.message).startsWith("NOSCRIPT")) {
            return await client.eval(script.source, keys.length, ...keys, ...args)
          }
          throw error
        }
      })

    /** The TTL of an entry: until the last of its tokens expires. */
    const ttlOf = (tokens: TokenSet.TokenSet, now: number): number => {
      const until = tokens.refreshToken !== undefined
        ? tokens.refreshExpiresAt === undefined ? undefined : Math.max(tokens.refreshExpiresAt, tokens.expiresAt ?? 0)
        : tokens.expiresAt
      if (until === undefined) return Number.isFinite(defaultTtl) ? Math.max(1, Math.round(defaultTtl)) : 0
      // An entry that is already dead still gets a moment, so a reader can see what was written.
      return Math.max(1000, Math.ceil(until - now))
    }

    const seal = (operation: "set", key: string, redisKey: string, version: number, plaintext: string) =>
      cryptoKey === undefined
        ? Effect.succeed(Cipher.clearTag + plaintext)
        : Effect.mapError(
          Cipher.seal(cryptoKey, redisKey, version, plaintext),
          (error) => failed(operation, key, error.message)
        )

    const unseal = (
      operation: TokenStore.TokenStoreError["operation"],
      key: string,
      redisKey: string,
      version: number,
      blob: string
    ): Effect.Effect<string, TokenStore.TokenStoreError> => {
      if (blob.startsWith(Cipher.sealedTag)) {
        return cryptoKey === undefined
          ? Effect.fail(failed(operation, key, "the stored value is encrypted and this store has no key"))
          : Effect.mapError(Cipher.open(cryptoKey, redisKey, version, blob), (error) =>
            failed(operation, key, error.message))
      }
      if (blob.startsWith(Cipher.clearTag)) {
        // A store with a key trusts only what was sealed with it: a clear-text entry could have
        // been planted by anyone who can write to Redis.
        return cryptoKey === undefined
          ? Effect.succeed(blob.slice(Cipher.clearTag.length))
          : Effect.fail(failed(operation, key, "the stored value is not encrypted and this store requires it"))
      }
      return Effect.fail(failed(operation, key, "the stored value is not a token set"))
    }

    const read = (
      operation: TokenStore.TokenStoreError["operation"],
      key: string
    ): Effect.Effect<Option.Option<TokenStore.Stored>, TokenStore.TokenStoreError> =>
      Effect.gen(function*() {
        const keys = keysOf(prefix, key)
        const reply = yield* call(operation, key, () =>
          client.hmget(keys.entry, "v", "d"))
        if (!isPair(reply)) return yield* Effect.fail(failed(operation, key, "unexpected reply from Redis"))
        const [versionText, blob] = reply
        if (versionText === null || blob === null) return Option.none()
        const version = Number(versionText)
        if (!Number.isSafeInteger(version)) {
          return yield* Effect.fail(failed(operation, key, "the stored version is not a number"))
        }
        const plaintext = yield* unseal(operation, key, keys.entry, version, blob)
        // A parse error would quote the value: say only what failed.
        const tokens = yield* Effect.mapError(
          decodeTokens(plaintext),
          () => failed(operation, key, "the stored value is not a token set")
        )
        return Option.some({ tokens, version })
      })

    const get: TokenStore.Service["get"] = (key) => read("get", key)

    const set: TokenStore.Service["set"] = (key, tokens, expectedVersion) =>
      Effect.gen(function*() {
        const keys = keysOf(prefix, key)
        const now = yield* Clock.currentTimeMillis
        const plaintext = yield* Effect.mapError(
          encodeTokens(tokens),
          () => failed("set", key, "the token set could not be encoded")
        )
        const ttl = ttlOf(tokens, now)
        let proposed = Math.max((expectedVersion ?? 0) + 1, Math.floor(now))
        // The script refuses a proposal at or below the highest version the key had (another
        // writer's clock is ahead, or a removed entry left its version behind); proposing again
        // above it needs a new seal, since the version is part of the sealed value.
        for (let attempt = 0; attempt < 5; attempt++) {
          const blob = yield* seal("set", key, keys.entry, proposed, plaintext)
          const reply = yield* evaluate("set", key, scripts.set, [keys.entry, keys.version], [
            expectedVersion === undefined ? "" : String(expectedVersion),
            String(proposed),
            blob,
            String(ttl),
            keys.channel
          ])
          if (!isReply(reply)) return yield* Effect.fail(failed("set", key, "unexpected reply from Redis"))
          const [status, value] = reply
          if (status === 2) return { tokens, version: proposed }
          if (status === 0) {
            return yield* new TokenStore.VersionConflict({
              key,
              expected: expectedVersion,
              actual: value === "" ? undefined : Number(value)
            })
          }
          proposed = Number(value) + 1
        }
        return yield* Effect.fail(failed("set", key, "the version of the entry kept moving"))
      })

    const remove: TokenStore.Service["remove"] = (key) =>
      Effect.gen(function*() {
        const keys = keysOf(prefix, key)
        const now = yield* Clock.currentTimeMillis
        yield* evaluate("remove", key, scripts.remove, [keys.entry, keys.version], [
          String(Math.floor(now)),
          keys.channel
        ])
      })

    let leases = 0
    const lease: TokenStore.Service["lease"] = (key) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const keys = keysOf(prefix, key)
          const owner = `${ownerLabel}/${randomId()}-${++leases}`
          let tried = false
          // In place before the first attempt: an attempt interrupted after Redis granted it
          // still releases, and releasing a lease someone else holds is refused by the script.
          yield* Effect.addFinalizer(() =>
            tried
              ? Effect.ignore(evaluate("lease", key, scripts.release, [keys.lease], [owner, keys.channel]))
              : Effect.void
          )
          // A slow answer is tried again (the acquire script is idempotent for its owner): a
          // session that gave up on the lease would refresh without it. A refused connection
          // fails at once, so a Redis that is down costs no waiting.
          const attempt = Effect.suspend(() => {
            tried = true
            return evaluate("lease", key, scripts.acquire, [keys.lease], [owner, String(leaseTtl)])
          }).pipe(Effect.retry({ times: 2, while: (error) => error.description.startsWith(slowAnswer) }))
          yield* restore(Effect.scoped(Effect.gen(function*() {
            // Woken by the holder's release (or any change); polled besides, for a holder that
            // died without releasing or a notification that was missed.
            const wake = yield* Queue.sliding<void>(1)
            yield* hub.listen(keys.channel, () => Queue.unsafeOffer(wake, undefined))
            const start = yield* Clock.currentTimeMillis
            while ((yield* attempt) !== 1) {
              if ((yield* Clock.currentTimeMillis) - start >= leaseWait) {
                return yield* Effect.fail(
                  failed("lease", key, `another holder kept the lease for more than ${leaseWait} ms`)
                )
              }
              yield* Effect.raceFirst(Queue.take(wake), Effect.sleep(pollInterval))
            }
          })))
          // Renewed while held; a renewal refused means the lease lapsed (the holder was too
          // slow, or Redis lost it): the refresh goes on, and the version decides its write.
          const renewal = evaluate("lease", key, scripts.renew, [keys.lease], [owner, String(leaseTtl)]).pipe(
            Effect.flatMap((renewed) =>
              renewed === 1
                ? Effect.void
                : Effect.zipRight(
                  Effect.logWarning("effect-auth: the refresh lease lapsed before its holder finished"),
                  Effect.interrupt
                )
            ),
            Effect.catchTag("TokenStoreError", () => Effect.void),
            Effect.repeat(Schedule.spaced(Duration.millis(Math.max(1, Math.floor(leaseTtl / 3)))))
          )
          // Interruptible: a fiber forked here would otherwise inherit the mask, and closing the
          // scope would wait on it forever.
          yield* Effect.forkScoped(
            Effect.interruptible(Effect.delay(renewal, Duration.millis(Math.max(1, Math.floor(leaseTtl / 3)))))
          )
        })
      )

    const subscribe: TokenStore.Service["subscribe"] = (key, onChange) =>
      Effect.gen(function*() {
        const keys = keysOf(prefix, key)
        // Only the latest change matters: the entry is read when it is handled.
        const changes = yield* Queue.sliding<string>(1)
        yield* hub.listen(keys.channel, (message) => {
          if (message !== "released") Queue.unsafeOffer(changes, message)
        })
        yield* Queue.take(changes).pipe(
          Effect.zipRight(read("subscribe", key)),
          Effect.flatMap(Option.match({ onNone: () => Effect.void, onSome: onChange })),
          Effect.catchAll((error) =>
            Effect.logDebug(`effect-auth: a change notification was not read: ${error.message}`)
          ),
          Effect.forever,
          Effect.forkScoped
        )
      })

    return TokenStore.make({ get, set, remove, lease, subscribe })
  })

/**
 * The store as the `TokenStore` layer, over a Redis client the application already has (see
 * `make`; the client stays the application's to close).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  client: Redis,
  options?: Options
): Layer.Layer<TokenStore.TokenStore, ConfigError.ConfigError> =>
  Layer.scoped(TokenStore.TokenStore, make(client, options))

/**
 * Options of `layerConfig`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigOptions extends Options {
  /** The Redis URL. Default: `REDIS_URL` (see `urlConfig`). */
  readonly url?: Config.Config<Redacted.Redacted<string>> | undefined
  /** How long to wait for the first connection before going on without it. Default: `timeout`. */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * Connects to `url` for as long as the scope lives, with calls that fail at once while the
 * connection is down (no offline queue, no replays) and reconnection in the background. When
 * Redis is unreachable at start the client is returned anyway: sessions then run without
 * coordination until it answers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  url: Redacted.Redacted<string>,
  options: { readonly connectTimeout?: Duration.DurationInput | undefined } = {}
): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const client = new Redis(Redacted.value(url), {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: Math.max(1, Math.round(Duration.toMillis(options.connectTimeout ?? Duration.seconds(1)))),
        // Reconnect forever, backing off to two seconds between attempts.
        retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000)
      })
      client.on("error", () => undefined)
      yield* Effect.async<void>((resume) => {
        const done = () => resume(Effect.void)
        if (client.status === "ready") return done()
        client.once("ready", done)
        return Effect.sync(() => client.off("ready", done))
      }).pipe(Effect.timeout(options.connectTimeout ?? Duration.seconds(1)), Effect.ignore)
      return client
    }),
    (client) =>
      Effect.promise(() => client.quit().then(() => undefined, () => undefined)).pipe(
        Effect.timeout(Duration.seconds(1)),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => client.disconnect()))
      )
  )

/**
 * The store as the `TokenStore` layer, on a connection of its own to `REDIS_URL` (TLS with
 * `rediss://`, the password in the URL) and encrypted with `EFFECT_AUTH_REDIS_KEY` unless
 * `encryption` says otherwise.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<TokenStore.TokenStore, ConfigError.ConfigError> =>
  Layer.scoped(
    TokenStore.TokenStore,
    Effect.gen(function*() {
      const url = yield* (options.url ?? urlConfig)
      const encryption = options.encryption ?? (yield* encryptionConfig)
      const client = yield* connect(url, { connectTimeout: options.connectTimeout ?? options.timeout })
      return yield* make(client, { ...options, encryption })
    })
  )
