import * as AuthSession from "@effect-auth/core/AuthSession"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as TokenStore from "@effect-auth/core/TokenStore"
import * as RedisTokenStore from "@effect-auth/redis/RedisTokenStore"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { Redis } from "ioredis"
import { availability, client, freshPrefix, otherKey, ready, server, testKey, useRedis } from "./redis.js"

useRedis()

const tokens = (name: string, now: number, lifetime = 60_000) =>
  TokenSet.fromExpiresAt({
    accessToken: Redacted.make(`access-${name}`),
    refreshToken: Redacted.make(`refresh-${name}`),
    expiresAt: now + lifetime,
    refreshExpiresAt: now + 3_600_000
  })

/** A store on a connection of its own, as another process would have. */
const store = (prefix: string, options: RedisTokenStore.Options = {}) =>
  Effect.gen(function*() {
    const redis = yield* client
    yield* ready(redis)
    const service = yield* RedisTokenStore.make(redis, { prefix, encryption: { key: testKey }, ...options })
    return { redis, service }
  })

/** Every string Redis holds under `prefix`, values and hash fields alike. */
const dump = (redis: Redis, prefix: string) =>
  Effect.promise(async () => {
    const out: Array<string> = []
    for (const key of await redis.keys(`${prefix}*`)) {
      const type = await redis.type(key)
      if (type === "hash") out.push(...Object.values(await redis.hgetall(key)))
      else if (type === "string") out.push((await redis.get(key)) ?? "")
    }
    return out.join("\n")
  })

const now = Clock.currentTimeMillis

describe.skipIf(availability === undefined)("RedisTokenStore", () => {
  it.scopedLive("compare-and-set: of 16 processes writing over one version, exactly one wins", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const stores = yield* Effect.all(Array.from({ length: 16 }, () => store(prefix)))
      const first = yield* stores[0].service.set("ada", tokens("first", yield* now), undefined)
      const at = yield* now
      const results = yield* Effect.all(
        stores.map(({ service }, i) => Effect.either(service.set("ada", tokens(`w${i}`, at), first.version))),
        { concurrency: "unbounded" }
      )
      const winners = results.filter(Either.isRight)
      assert.strictEqual(winners.length, 1)
      const winner = winners[0].right
      assert.isAbove(winner.version, first.version)
      for (const result of results) {
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left._tag, "VersionConflict")
          if (result.left._tag === "VersionConflict") assert.strictEqual(result.left.actual, winner.version)
        }
      }
      const read = Option.getOrThrow(yield* stores[5].service.get("ada"))
      assert.strictEqual(read.version, winner.version)
      assert.strictEqual(Redacted.value(read.tokens.accessToken), Redacted.value(winner.tokens.accessToken))
      // A write that expects "no entry" loses to the existing one.
      const late = yield* Effect.either(stores[3].service.set("ada", tokens("late", at), undefined))
      assert.isTrue(Either.isLeft(late) && late.left._tag === "VersionConflict")
    }))

  it.scopedLive("versions never repeat: not after remove, nor for a writer holding a removed version", () =>
    Effect.gen(function*() {
      const { service } = yield* store(freshPrefix())
      const a = yield* service.set("k", tokens("a", yield* now), undefined)
      const b = yield* service.set("k", tokens("b", yield* now), a.version)
      yield* service.remove("k")
      assert.isTrue(Option.isNone(yield* service.get("k")))
      const stale = yield* Effect.either(service.set("k", tokens("stale", yield* now), b.version))
      assert.isTrue(Either.isLeft(stale) && stale.left._tag === "VersionConflict")
      const c = yield* service.set("k", tokens("c", yield* now), undefined)
      assert.isAbove(c.version, b.version)
    }))

  it.scopedLive("the entry's TTL follows the refresh token's expiry", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const { redis, service } = yield* store(prefix)
      yield* service.set("k", tokens("a", yield* now), undefined)
      const ttl = yield* Effect.promise(() => redis.pttl(RedisTokenStore.keysOf(prefix, "k").entry))
      assert.isAbove(ttl, 3_500_000)
      assert.isAtMost(ttl, 3_600_000)
    }))

  it.scopedLive("lease: a second process waits for the holder and gets the lease when it is released", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const a = yield* store(prefix)
      const b = yield* store(prefix)
      const held = yield* Scope.make()
      yield* Scope.extend(a.service.lease("k"), held)
      const waiter = yield* Effect.fork(Effect.timed(Effect.scoped(b.service.lease("k"))))
      yield* Effect.sleep("300 millis")
      assert.isNull(yield* Fiber.poll(waiter).pipe(Effect.map(Option.getOrNull)))
      yield* Scope.close(held, Exit.void)
      const [waited] = yield* Fiber.join(waiter)
      assert.isAtLeast(Duration.toMillis(waited), 290)
      assert.isBelow(Duration.toMillis(waited), 800)
    }))

  it.scopedLive("lease expiry and takeover: a holder that died is replaced when its TTL ends", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const { redis, service } = yield* store(prefix)
      // A process that took the lease and was killed: nobody renews or releases it.
      yield* Effect.promise(() => redis.set(RedisTokenStore.keysOf(prefix, "k").lease, "dead/1", "PX", 600))
      const [waited] = yield* Effect.timed(Effect.scoped(service.lease("k")))
      assert.isAtLeast(Duration.toMillis(waited), 450)
      assert.isBelow(Duration.toMillis(waited), 1_200)
    }))

  it.scopedLive("a held lease is renewed while its holder is slow", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const a = yield* store(prefix, { leaseTtl: "300 millis" })
      const b = yield* store(prefix, { leaseTtl: "300 millis" })
      const held = yield* Scope.make()
      yield* Scope.extend(a.service.lease("k"), held)
      const waiter = yield* Effect.fork(Effect.timed(Effect.scoped(b.service.lease("k"))))
      // Four TTLs: without renewal the waiter would have the lease after one.
      yield* Effect.sleep("1200 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiter)))
      yield* Scope.close(held, Exit.void)
      const [waited] = yield* Fiber.join(waiter)
      assert.isAtLeast(Duration.toMillis(waited), 1_150)
    }))

  it.scopedLive("a holder whose lease lapsed can neither overwrite the newer token nor release its successor", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const keys = RedisTokenStore.keysOf(prefix, "k")
      const a = yield* store(prefix)
      const b = yield* store(prefix)
      const base = yield* a.service.set("k", tokens("base", yield* now), undefined)
      const heldA = yield* Scope.make()
      yield* Scope.extend(a.service.lease("k"), heldA)
      // A stalls (a long GC pause, a partition) until its lease is gone.
      yield* Effect.promise(() => a.redis.del(keys.lease))
      const heldB = yield* Scope.make()
      yield* Scope.extend(b.service.lease("k"), heldB)
      const written = yield* b.service.set("k", tokens("b", yield* now), base.version)
      // A wakes up and writes what it refreshed, based on the version it read.
      const late = yield* Effect.either(a.service.set("k", tokens("a", yield* now), base.version))
      assert.isTrue(Either.isLeft(late) && late.left._tag === "VersionConflict")
      yield* Scope.close(heldA, Exit.void)
      const owner = yield* Effect.promise(() => a.redis.get(keys.lease))
      assert.isNotNull(owner)
      const stored = Option.getOrThrow(yield* a.service.get("k"))
      assert.strictEqual(stored.version, written.version)
      assert.strictEqual(Redacted.value(stored.tokens.accessToken), "access-b")
      yield* Scope.close(heldB, Exit.void)
      assert.isNull(yield* Effect.promise(() => a.redis.get(keys.lease)))
    }))

  it.scopedLive("encryption at rest: no token in clear text; another key, a moved or rolled-back value is refused", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const keys = RedisTokenStore.keysOf(prefix, "k")
      const { redis, service } = yield* store(prefix)
      const first = yield* service.set("k", tokens("secret-one", yield* now), undefined)
      yield* service.set("k", tokens("secret-two", yield* now), first.version)
      const raw = yield* dump(redis, prefix)
      assert.notInclude(raw, "secret")
      assert.notInclude(raw, "access-")
      assert.strictEqual(
        Redacted.value(Option.getOrThrow(yield* service.get("k")).tokens.refreshToken ?? Redacted.make("")),
        "refresh-secret-two"
      )
      // Another key cannot read it.
      const other = yield* store(prefix, { encryption: { key: otherKey } })
      const wrongKey = yield* Effect.either(other.service.get("k"))
      assert.isTrue(Either.isLeft(wrongKey) && wrongKey.left._tag === "TokenStoreError")
      if (Either.isLeft(wrongKey)) assert.notInclude(wrongKey.left.message, "secret")
      // A value copied to another session's key, or put back under another version, is refused.
      const blob = yield* Effect.promise(() => redis.hget(keys.entry, "d"))
      const version = yield* Effect.promise(() => redis.hget(keys.entry, "v"))
      yield* Effect.promise(() =>
        redis.hset(RedisTokenStore.keysOf(prefix, "eve").entry, "v", version ?? "", "d", blob ?? "")
      )
      assert.isTrue(Either.isLeft(yield* Effect.either(service.get("eve"))))
      yield* Effect.promise(() => redis.hset(keys.entry, "v", String(first.version)))
      assert.isTrue(Either.isLeft(yield* Effect.either(service.get("k"))))
      // Opting out stores the encoded token set as it is, and a store with a key refuses it.
      const clear = yield* store(prefix, { encryption: "none" })
      yield* clear.service.set("plain", tokens("visible", yield* now), undefined)
      assert.include(yield* dump(redis, `${prefix}{plain}`), "access-visible")
      assert.isTrue(Either.isLeft(yield* Effect.either(service.get("plain"))))
    }))

  it.scopedLive("notification: a session adopts the token another process refreshed and re-arms instead of refreshing", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      let issued = 0
      const sent: Array<string> = []
      const issue = Effect.flatMap(now, (at) => Effect.sync(() => tokens(`t${++issued}`, at, 1_000)))
      const options: AuthSession.Options<never, never> = {
        provider: "test",
        key: "ada",
        login: issue,
        refresh: (refreshToken: Redacted.Redacted<string>) =>
          Effect.zipRight(Effect.sync(() => sent.push(Redacted.value(refreshToken))), issue),
        skew: "400 millis",
        jitter: "0 millis",
        minRefreshInterval: "0 millis"
      }
      const sessions = yield* Effect.all(Array.from({ length: 3 }, () =>
        Effect.gen(function*() {
          const { service } = yield* store(prefix)
          return yield* AuthSession.make(options).pipe(Effect.provideService(TokenStore.TokenStore, service))
        })))
      const first = yield* sessions[0].token
      // The others read the store and take the first one's token.
      for (const session of sessions.slice(1)) {
        assert.strictEqual(Redacted.value((yield* session.token).accessToken), Redacted.value(first.accessToken))
      }
      // Session 0 refreshes by itself; the others hear of it and hold the new token at once.
      const refreshed = yield* sessions[0].refresh
      yield* Effect.sleep("100 millis")
      for (const session of sessions.slice(1)) {
        const state = yield* session.state
        assert.strictEqual(state._tag, "Valid")
        if (state._tag === "Valid") assert.strictEqual(state.expiresAt, refreshed.expiresAt)
      }
      // Three sessions over 2.5 lifetimes: one refresh per lifetime, never a refresh token twice.
      sent.length = 0
      yield* Effect.sleep("2500 millis")
      assert.isAtLeast(sent.length, 3)
      assert.isAtMost(sent.length, 5)
      assert.strictEqual(new Set(sent).size, sent.length)
      assert.strictEqual(issued, 2 + sent.length)
    }))

  it.scopedLive(
    "Redis killed and restarted mid-run: fast typed errors, the held token served, the rotated one written on return",
    () =>
      Effect.gen(function*() {
        const redisServer = server()
        if (!redisServer.owned) return yield* Effect.log("skipped: REDIS_URL is not a server this test can kill")
        const prefix = freshPrefix()
        const { service } = yield* store(prefix, { timeout: "300 millis" })
        let issued = 0
        const issue = Effect.flatMap(now, (at) => Effect.sync(() => tokens(`k${++issued}`, at, 30_000)))
        const session = yield* AuthSession.make({
          provider: "test",
          key: "ada",
          login: issue,
          refresh: () => issue,
          minRefreshInterval: "0 millis"
        }).pipe(Effect.provideService(TokenStore.TokenStore, service))
        const held = yield* session.token

        yield* redisServer.stop
        const [took, failure] = yield* Effect.timed(Effect.flip(service.get("ada")))
        assert.strictEqual(failure._tag, "TokenStoreError")
        assert.isBelow(Duration.toMillis(took), 1_000)
        // The session keeps serving what it holds, and a refresh still succeeds (unpersisted).
        assert.strictEqual(Redacted.value((yield* session.token).accessToken), Redacted.value(held.accessToken))
        const [refreshTook, rotated] = yield* Effect.timed(session.refresh)
        assert.isBelow(Duration.toMillis(refreshTook), 2_000)
        assert.strictEqual((yield* session.state)._tag, "Unpersisted")

        // Redis comes back empty; the background writer puts the rotated token there.
        yield* redisServer.start
        const found = yield* service.get("ada").pipe(
          Effect.flatMap((entry) =>
            Option.isSome(entry) &&
              Redacted.value(entry.value.tokens.accessToken) === Redacted.value(rotated.accessToken)
              ? Effect.succeed(entry.value)
              : Effect.fail("not yet")
          ),
          Effect.retry(Schedule.spaced("100 millis")),
          Effect.timeout("8 seconds")
        )
        assert.isDefined(found)
        assert.strictEqual((yield* session.state)._tag, "Valid")
      }),
    20_000
  )

  it.scopedLive("layerConfig: REDIS_URL and EFFECT_AUTH_REDIS_KEY from Config; a bad key is a ConfigError", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const provider = (key: string) =>
        ConfigProvider.fromMap(new Map([["REDIS_URL", server().url], ["EFFECT_AUTH_REDIS_KEY", key]]))
      const service = yield* Layer.build(RedisTokenStore.layerConfig({ prefix })).pipe(
        Effect.map(Context.get(TokenStore.TokenStore)),
        Effect.withConfigProvider(provider(Redacted.value(testKey)))
      )
      const written = yield* service.set("k", tokens("config", yield* now), undefined)
      assert.strictEqual(Option.getOrThrow(yield* service.get("k")).version, written.version)
      const bad = yield* Effect.exit(
        Layer.build(RedisTokenStore.layerConfig({ prefix })).pipe(Effect.withConfigProvider(provider("short")))
      )
      assert.isTrue(Exit.isFailure(bad))
      const missing = yield* Effect.exit(
        Layer.build(RedisTokenStore.layerConfig({ prefix })).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", server().url]])))
        )
      )
      assert.isTrue(Exit.isFailure(missing))
    }))
})
