import * as AuthSession from "@effect-auth/core/AuthSession"
import * as SessionMetrics from "@effect-auth/core/SessionMetrics"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as TokenStore from "@effect-auth/core/TokenStore"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { timerFor } from "../src/internal/timer.js"

/** A provider failure: a 400 means the refresh token is dead, anything else is passing. */
class ProviderError extends Schema.TaggedError<ProviderError>()("ProviderError", {
  status: Schema.Number
}) {
  override get message(): string {
    return `provider answered ${this.status}`
  }
}

const isRejected = (error: ProviderError) => error.status === 400

interface SpanRecord {
  readonly name: string
  readonly attributes: Record<string, unknown>
}

interface FakeConfig {
  /** Access token lifetime in seconds; `undefined`: no expiry. Default 3600. */
  readonly lifetime?: number | undefined
  /** How long the provider takes to answer. Default: instantly. */
  readonly delay?: Duration.DurationInput
  /** When given, the provider answers only once this is done. */
  readonly gate?: Deferred.Deferred<void>
  /** Whether refresh responses carry a new refresh token. Default: true. */
  readonly rotate?: boolean
}

/**
 * A provider as plain effects: every call is recorded, tokens are numbered and hold
 * distinctive secrets, and failures can be queued per operation.
 */
const makeFake = (config: FakeConfig = {}) =>
  Effect.gen(function*() {
    const lifetime = "lifetime" in config ? config.lifetime : 3600
    const issued = yield* Ref.make(0)
    const calls = yield* Ref.make<ReadonlyArray<string>>([])
    const queued = yield* Ref.make<ReadonlyArray<{ readonly op: string; readonly status: number }>>([])
    const spans: Array<SpanRecord> = []

    const record = (entry: string) =>
      Effect.gen(function*() {
        yield* Ref.update(calls, (all) => [...all, entry])
        const span = yield* Effect.option(Effect.currentSpan)
        if (Option.isSome(span)) {
          spans.push({ name: span.value.name, attributes: Object.fromEntries(span.value.attributes) })
        }
        if (config.delay !== undefined) yield* Effect.sleep(config.delay)
        if (config.gate !== undefined) yield* Deferred.await(config.gate)
        const op = entry.split(":")[0]
        const failure = yield* Ref.modify(queued, (queue) => {
          const index = queue.findIndex((item) => item.op === op)
          return index === -1 ? [undefined, queue] : [queue[index], queue.filter((_, i) => i !== index)]
        })
        if (failure !== undefined) return yield* new ProviderError({ status: failure.status })
      })

    const issue = (withRefresh: boolean) =>
      Effect.flatMap(Ref.updateAndGet(issued, (n) => n + 1), (n) =>
        TokenSet.fromExpiresIn({
          accessToken: Redacted.make(`SECRET-ACCESS-${n}`),
          refreshToken: withRefresh ? Redacted.make(`SECRET-REFRESH-${n}`) : undefined,
          expiresIn: lifetime
        }))

    const login = Effect.zipRight(record("login"), issue(true))
    const refresh = (refreshToken: Redacted.Redacted<string>) =>
      Effect.zipRight(record(`refresh:${Redacted.value(refreshToken)}`), issue(config.rotate ?? true))
    const revoke = (tokens: TokenSet.TokenSet) => record(`revoke:${Redacted.value(tokens.accessToken)}`)

    const count = (op: string) => Effect.map(Ref.get(calls), (all) => all.filter((c) => c.split(":")[0] === op).length)

    return {
      calls: Ref.get(calls),
      count,
      spans,
      queued,
      fail: (op: "login" | "refresh" | "revoke", ...statuses: ReadonlyArray<number>) =>
        Ref.update(queued, (queue) => [...queue, ...statuses.map((status) => ({ op, status }))]),
      issue,
      options: (provider: string): AuthSession.Options<ProviderError, ProviderError, never, ProviderError> => ({
        provider,
        key: `${provider}-session`,
        login,
        refresh,
        revoke,
        isRefreshRejected: isRejected
      })
    }
  })

/**
 * `TestClock.adjust`, then a few turns of the event loop: adjusting wakes the session's timer,
 * but does not wait for the fibers it forks to send their request.
 */
const settle = Effect.repeatN(
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), 0)
    return Effect.sync(() => clearTimeout(timer))
  }),
  4
)
const advance = (duration: Duration.DurationInput) => Effect.zipRight(TestClock.adjust(duration), settle)

const access = (tokens: TokenSet.TokenSet) => Redacted.value(tokens.accessToken)

const counterValue = (metric: Metric.Metric.Counter<number>, provider: string) =>
  Effect.map(Metric.value(Metric.tagged(metric, "provider", provider)), (state) => state.count)

/** Runs `f` with a logger that keeps every line (message, level, annotations, cause) as text. */
const captureLogs = <A, E, R>(f: (lines: ReadonlyArray<string>) => Effect.Effect<A, E, R>) => {
  const lines: Array<string> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    lines.push(
      `${logLevel.label} ${JSON.stringify(message)} ${
        JSON.stringify(Object.fromEntries(HashMap.toEntries(annotations)))
      } ${String(cause)}`
    )
  })
  return f(lines).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
}

describe("AuthSession", () => {
  describe("single flight", () => {
    it.scoped("10,000 concurrent token calls on an empty session cause one login", () =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const fake = yield* makeFake({ gate })
        const session = yield* AuthSession.make(fake.options("sf-10k"))
        const fiber = yield* Effect.fork(
          Effect.all(Array.from({ length: 10_000 }, () => session.token), { concurrency: "unbounded" })
        )
        // Every caller is waiting before the provider answers.
        yield* settle
        yield* Deferred.succeed(gate, undefined)
        const tokens = yield* Fiber.join(fiber)
        assert.strictEqual(yield* fake.count("login"), 1)
        assert.isTrue(tokens.every((t) => access(t) === "SECRET-ACCESS-1"))
        assert.strictEqual(yield* counterValue(SessionMetrics.singleFlightJoins, "sf-10k"), 9_999)
        assert.strictEqual(yield* counterValue(SessionMetrics.logins, "sf-10k"), 1)
        // The held token is served without a request from now on.
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-1")
        assert.strictEqual(yield* fake.count("login"), 1)
      }).pipe(Effect.provide(SessionMetrics.layer)))

    it.scoped("an interrupted caller does not cancel the shared login", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ delay: "10 seconds" })
        const session = yield* AuthSession.make(fake.options("sf-interrupt"))
        const impatient = yield* Effect.fork(Effect.timeout(session.token, "1 second"))
        const patient = yield* Effect.fork(session.token)
        yield* advance("1 second")
        const timedOut = yield* Fiber.await(impatient)
        assert.isTrue(Exit.isFailure(timedOut))
        yield* advance("9 seconds")
        assert.strictEqual(access(yield* Fiber.join(patient)), "SECRET-ACCESS-1")
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-1")
        assert.strictEqual(yield* fake.count("login"), 1)
      }))

    it.scoped("an interrupted only caller does not cancel the login either", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ delay: "10 seconds" })
        const session = yield* AuthSession.make(fake.options("sf-interrupt-only"))
        const caller = yield* Effect.fork(session.token)
        yield* advance("1 second")
        yield* Fiber.interrupt(caller)
        yield* advance("9 seconds")
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-1")
        assert.strictEqual(yield* fake.count("login"), 1)
      }))

    it.scoped("a failure reaches every waiting caller and is not cached", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ delay: "1 second" })
        yield* fake.fail("login", 503)
        const session = yield* AuthSession.make(fake.options("sf-failure"))
        const fiber = yield* Effect.fork(
          Effect.all(Array.from({ length: 50 }, () => Effect.either(session.token)), { concurrency: "unbounded" })
        )
        yield* advance("1 second")
        const results = yield* Fiber.join(fiber)
        assert.isTrue(results.every((r) => r._tag === "Left" && r.left._tag === "ProviderError"))
        assert.strictEqual(yield* fake.count("login"), 1)
        assert.deepStrictEqual(yield* session.state, { _tag: "Failed", error: "provider answered 503" })

        const retry = yield* Effect.fork(session.token)
        yield* advance("1 second")
        assert.strictEqual(access(yield* Fiber.join(retry)), "SECRET-ACCESS-1")
        assert.strictEqual(yield* fake.count("login"), 2)
      }))

    it.scoped("a forced refresh joins the login in flight", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ delay: "1 second" })
        const session = yield* AuthSession.make(fake.options("sf-force"))
        const first = yield* Effect.fork(session.token)
        const forced = yield* Effect.fork(session.refresh)
        yield* advance("1 second")
        assert.strictEqual(access(yield* Fiber.join(first)), "SECRET-ACCESS-1")
        assert.strictEqual(access(yield* Fiber.join(forced)), "SECRET-ACCESS-1")
        assert.deepStrictEqual(yield* fake.calls, ["login"])

        // With nothing in flight it refreshes now, whatever the expiry.
        const again = yield* Effect.fork(session.refresh)
        yield* advance("1 second")
        assert.strictEqual(access(yield* Fiber.join(again)), "SECRET-ACCESS-2")
        assert.deepStrictEqual(yield* fake.calls, ["login", "refresh:SECRET-REFRESH-1"])
      }))
  })

  describe("proactive refresh", () => {
    it.scoped("no refresh before expiresAt - skew - maxJitter, one right after", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ lifetime: 3600 })
        const session = yield* AuthSession.make(fake.options("pro-bounds"))
        yield* session.token
        // Jitter drawn at its maximum: the earliest the schedule allows.
        yield* advance(Duration.millis(3_510_000 - 1))
        assert.strictEqual(yield* fake.count("refresh"), 0)
        yield* advance(Duration.millis(1))
        assert.deepStrictEqual(yield* fake.calls, ["login", "refresh:SECRET-REFRESH-1"])
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-2")
      }).pipe(Effect.withRandom(Random.fixed([1]))))

    it.scoped("with random jitter the refresh lands between expiresAt - skew - jitter and expiresAt - skew", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ lifetime: 3600 })
        const session = yield* AuthSession.make({
          ...fake.options("pro-random"),
          skew: "2 minutes",
          jitter: "1 minute"
        })
        yield* session.token
        yield* advance(Duration.millis(3_420_000 - 1))
        assert.strictEqual(yield* fake.count("refresh"), 0)
        yield* advance(Duration.millis(60_001))
        assert.strictEqual(yield* fake.count("refresh"), 1)
        assert.strictEqual(yield* counterValue(SessionMetrics.refreshes, "pro-random"), 1)
      }).pipe(Effect.provide(SessionMetrics.layer)))

    it.scoped("failed proactive refreshes are retried on the schedule; the old token is served meanwhile", () =>
      captureLogs((lines) =>
        Effect.gen(function*() {
          const fake = yield* makeFake({ lifetime: 3600 })
          yield* fake.fail("refresh", 503, 503, 503)
          const session = yield* AuthSession.make({ ...fake.options("pro-retry"), jitter: 0 })
          yield* session.token
          yield* advance("3540 seconds")
          assert.strictEqual(yield* fake.count("refresh"), 1)
          assert.deepStrictEqual(yield* session.state, { _tag: "Failed", error: "provider answered 503" })
          assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-1")
          // Exponential from 1 second with jitter (at most x1.2): 1.2 s, 2.4 s, then the fourth succeeds.
          yield* advance("1200 millis")
          yield* advance("2400 millis")
          assert.strictEqual(yield* fake.count("refresh"), 3)
          assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-1")
          yield* advance("4800 millis")
          assert.strictEqual(yield* fake.count("refresh"), 4)
          assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-2")
          assert.strictEqual(yield* fake.count("login"), 1)
          assert.deepStrictEqual(yield* session.state, { _tag: "Valid", expiresAt: (3540 + 8.4 + 3600) * 1000 })
          const warnings = lines.filter((line) => line.startsWith("WARN") && line.includes("proactive refresh failed"))
          assert.strictEqual(warnings.length, 3)
          assert.isTrue(warnings.every((line) => line.includes("provider answered 503")))
          assert.strictEqual(yield* counterValue(SessionMetrics.failures, "pro-retry"), 3)
          // And the loop goes on with the new token.
          yield* advance("3540 seconds")
          assert.strictEqual(yield* fake.count("refresh"), 5)
        })
      ).pipe(Effect.provide(SessionMetrics.layer), Effect.withRandom(Random.fixed([1]))))

    it.scoped("a token shorter-lived than the skew is refreshed half-way, not in a loop", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ lifetime: 10 })
        const session = yield* AuthSession.make(fake.options("pro-short"))
        yield* session.token
        yield* advance(Duration.millis(4_999))
        assert.strictEqual(yield* fake.count("refresh"), 0)
        yield* advance(Duration.millis(1))
        assert.strictEqual(yield* fake.count("refresh"), 1)
        yield* advance("55 seconds")
        // One refresh every 5 seconds of a 10 second token: 12 in the first minute.
        assert.strictEqual(yield* fake.count("refresh"), 12)
        assert.isTrue(TokenSet.isValidAt(yield* session.token, 60_000))
      }))

    it.scoped("a token without expiry is refreshed only on demand", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ lifetime: undefined })
        const session = yield* AuthSession.make(fake.options("pro-none"))
        const first = yield* session.token
        yield* advance("30 days")
        assert.deepStrictEqual(yield* fake.calls, ["login"])
        yield* session.invalidate(first)
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-2")
        assert.deepStrictEqual(yield* fake.calls, ["login", "refresh:SECRET-REFRESH-1"])
      }))

    it.effect("closing the scope stops the fiber: no request afterwards, and one revoke when configured", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ lifetime: 600 })
        const scope = yield* Scope.make()
        const session = yield* AuthSession.make({ ...fake.options("pro-close"), revokeOnClose: true }).pipe(
          Scope.extend(scope)
        )
        yield* session.token
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(yield* fake.calls, ["login", "revoke:SECRET-ACCESS-1"])
        yield* advance("1 day")
        assert.deepStrictEqual(yield* fake.calls, ["login", "revoke:SECRET-ACCESS-1"])
        assert.isTrue(fake.spans.some((span) => span.name === "effect-auth.revoke"))
      }))

    it.effect("without revokeOnClose, closing the scope sends nothing", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ lifetime: 600 })
        const scope = yield* Scope.make()
        const session = yield* AuthSession.make(fake.options("pro-close-quiet")).pipe(Scope.extend(scope))
        yield* session.token
        yield* Scope.close(scope, Exit.void)
        yield* advance("1 day")
        assert.deepStrictEqual(yield* fake.calls, ["login"])
      }))

    it.effect("closing the scope interrupts a login in flight", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ delay: "10 seconds" })
        const scope = yield* Scope.make()
        const session = yield* AuthSession.make(fake.options("pro-close-inflight")).pipe(Scope.extend(scope))
        const caller = yield* Effect.fork(session.token)
        yield* advance("1 second")
        yield* Scope.close(scope, Exit.void)
        // The waiting caller learns why, as a typed error rather than an interruption.
        const error = yield* Effect.flip(Fiber.join(caller))
        assert.instanceOf(error, AuthSession.SessionClosed)
        assert.deepStrictEqual(yield* session.state, { _tag: "Closed" })
        yield* advance("1 day")
        assert.deepStrictEqual(yield* fake.calls, ["login"])
      }))
  })

  describe("invalidate", () => {
    it.scoped("100 concurrent invalidations of the same token cause one refetch", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ delay: "1 second" })
        const session = yield* AuthSession.make(fake.options("inv-100"))
        const login = yield* Effect.fork(session.token)
        yield* advance("1 second")
        const seen = yield* Fiber.join(login)

        const fiber = yield* Effect.fork(
          Effect.all(
            Array.from({ length: 100 }, () => Effect.zipRight(session.invalidate(seen), session.token)),
            { concurrency: "unbounded" }
          )
        )
        yield* advance("1 second")
        const tokens = yield* Fiber.join(fiber)
        assert.isTrue(tokens.every((t) => access(t) === "SECRET-ACCESS-2"))
        assert.deepStrictEqual(yield* fake.calls, ["login", "refresh:SECRET-REFRESH-1"])
      }))

    it.scoped("invalidating an older token than the current one causes no refetch", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const session = yield* AuthSession.make(fake.options("inv-old"))
        const old = yield* session.token
        const current = yield* session.refresh
        yield* session.invalidate(old)
        assert.strictEqual(access(yield* session.token), access(current))
        assert.deepStrictEqual(yield* fake.calls, ["login", "refresh:SECRET-REFRESH-1"])
        // An equal token (not the same object) is recognised by value.
        yield* session.invalidate(new TokenSet.TokenSet({ ...current }))
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-3")
      }))
  })

  describe("rotation and the store", () => {
    it.scoped("the store holds the new refresh token before any caller sees the new access token", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const memory = TokenStore.unsafeMakeMemory()
        const callerDone = yield* Ref.make(false)
        const writes = yield* Ref.make<ReadonlyArray<{ readonly refresh: string; readonly callerDone: boolean }>>([])
        // A slow store that notes, for every write, whether the caller already had its token.
        const slow: TokenStore.Service = {
          ...memory,
          set: (key, tokens, expected) =>
            Effect.gen(function*() {
              yield* Effect.sleep("1 second")
              const stored = yield* memory.set(key, tokens, expected)
              const done = yield* Ref.get(callerDone)
              yield* Ref.update(writes, (all) => [...all, {
                refresh: tokens.refreshToken ? Redacted.value(tokens.refreshToken) : "",
                callerDone: done
              }])
              return stored
            })
        }
        yield* Effect.gen(function*() {
          const session = yield* AuthSession.make(fake.options("rot-order"))
          const first = yield* Effect.fork(session.token)
          yield* advance("1 second")
          const seen = yield* Fiber.join(first)
          yield* session.invalidate(seen)
          const caller = yield* Effect.fork(Effect.tap(session.token, () => Ref.set(callerDone, true)))
          yield* advance("500 millis")
          assert.isTrue(Option.isNone(yield* Fiber.poll(caller)))
          yield* advance("500 millis")
          assert.strictEqual(access(yield* Fiber.join(caller)), "SECRET-ACCESS-2")
          assert.deepStrictEqual(yield* Ref.get(writes), [
            { refresh: "SECRET-REFRESH-1", callerDone: false },
            { refresh: "SECRET-REFRESH-2", callerDone: false }
          ])
          const stored = yield* memory.get("rot-order-session")
          assert.strictEqual(Option.map(stored, (s) => s.version).pipe(Option.getOrNull), 2)
        }).pipe(Effect.provideService(TokenStore.TokenStore, slow))
      }))

    it.scoped("a refresh response without a refresh token keeps the old one", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ rotate: false })
        const store = TokenStore.unsafeMakeMemory()
        const session = yield* AuthSession.make(fake.options("rot-keep")).pipe(
          Effect.provideService(TokenStore.TokenStore, store)
        )
        yield* session.token
        const refreshed = yield* session.refresh
        const again = yield* session.refresh
        assert.strictEqual(access(again), "SECRET-ACCESS-3")
        assert.strictEqual(refreshed.refreshToken && Redacted.value(refreshed.refreshToken), "SECRET-REFRESH-1")
        assert.deepStrictEqual(yield* fake.calls, [
          "login",
          "refresh:SECRET-REFRESH-1",
          "refresh:SECRET-REFRESH-1"
        ])
        const stored = Option.getOrThrow(yield* store.get("rot-keep-session"))
        assert.strictEqual(stored.tokens.refreshToken && Redacted.value(stored.tokens.refreshToken), "SECRET-REFRESH-1")
      }))

    it.scoped("a token in the store wins over the initial one", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const store = TokenStore.unsafeMakeMemory()
        const persisted = yield* fake.issue(true)
        const configured = yield* fake.issue(true)
        yield* store.set("rot-start-session", persisted, undefined)
        const session = yield* AuthSession.make({ ...fake.options("rot-start"), initial: configured }).pipe(
          Effect.provideService(TokenStore.TokenStore, store)
        )
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-1")
        assert.deepStrictEqual(yield* session.state, { _tag: "Valid", expiresAt: 3_600_000 })
        assert.deepStrictEqual(yield* fake.calls, [])
      }))

    it.scoped("the initial token set is used when the store is empty", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const configured = new TokenSet.TokenSet({
          accessToken: Redacted.make("SECRET-ACCESS-configured"),
          tokenType: "Bearer",
          expiresAt: 0,
          refreshToken: Redacted.make("SECRET-REFRESH-configured")
        })
        const session = yield* AuthSession.make({ ...fake.options("rot-initial"), initial: configured })
        assert.deepStrictEqual(yield* session.state, { _tag: "Empty" })
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-1")
        assert.deepStrictEqual(yield* fake.calls, ["refresh:SECRET-REFRESH-configured"])
      }))

    it.scoped("a valid token another instance left in the store is adopted without a request", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ lifetime: 600 })
        const store = TokenStore.unsafeMakeMemory()
        const session = yield* AuthSession.make(fake.options("rot-sibling")).pipe(
          Effect.provideService(TokenStore.TokenStore, store)
        )
        yield* session.token
        yield* advance("100 seconds")
        // The sibling refreshed first and wrote version 2.
        const sibling = yield* fake.issue(true)
        yield* store.set("rot-sibling-session", sibling, 1)
        yield* advance("410 seconds")
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-2")
        assert.deepStrictEqual(yield* fake.calls, ["login"])
      }).pipe(Effect.withRandom(Random.fixed([1]))))

    it.scoped("a rejected refresh adopts the newer token another instance wrote meanwhile", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const store = TokenStore.unsafeMakeMemory()
        const base = fake.options("rot-race")
        // The sibling spends the refresh token first: it writes its tokens, ours is refused.
        const refresh = (refreshToken: Redacted.Redacted<string>) =>
          Effect.gen(function*() {
            const sibling = yield* fake.issue(true)
            yield* Effect.orDie(store.set("rot-race-session", sibling, 1))
            return yield* Effect.flatMap(base.refresh!(refreshToken), () => new ProviderError({ status: 400 }))
          })
        const session = yield* AuthSession.make({ ...base, refresh }).pipe(
          Effect.provideService(TokenStore.TokenStore, store)
        )
        const seen = yield* session.token
        yield* session.invalidate(seen)
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-2")
        assert.deepStrictEqual(yield* fake.calls, ["login", "refresh:SECRET-REFRESH-1"])
        assert.deepStrictEqual(yield* session.state, { _tag: "Valid", expiresAt: 3_600_000 })
      }))

    it.scoped("a rejected refresh logs in again when the session has credentials", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const session = yield* AuthSession.make(fake.options("rot-relogin"))
        const seen = yield* session.token
        yield* fake.fail("refresh", 400)
        yield* session.invalidate(seen)
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-2")
        assert.deepStrictEqual(yield* fake.calls, ["login", "refresh:SECRET-REFRESH-1", "login"])
      }))

    it.scoped("a rejected refresh without credentials requires reauthentication, and the state says so", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const { login: _, ...withoutLogin } = fake.options("rot-reauth")
        const initial = yield* fake.issue(true)
        const session = yield* AuthSession.make({ ...withoutLogin, initial })
        const states = yield* Effect.fork(Stream.runCollect(Stream.take(AuthSession.changes(session), 3)))
        yield* Effect.yieldNow()
        yield* fake.fail("refresh", 400)
        yield* session.invalidate(initial)
        const error = yield* Effect.flip(session.token)
        assert.strictEqual(error._tag, "ReauthenticationRequired")
        assert.instanceOf(error, AuthSession.ReauthenticationRequired)
        expect(error.message).toBe(
          "rot-reauth session \"rot-reauth-session\" needs to authenticate again: the refresh token was rejected" +
            " (provider answered 400)"
        )
        // The cause says why, so the user does not have to guess.
        assert.instanceOf(error.cause, ProviderError)
        assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(states)), [
          { _tag: "Valid", expiresAt: 3_600_000 },
          { _tag: "Refreshing" },
          { _tag: "ReauthenticationRequired", reason: "the refresh token was rejected (provider answered 400)" }
        ])
        // The dead refresh token is not presented again.
        yield* Effect.flip(session.token)
        assert.deepStrictEqual(yield* fake.calls, ["refresh:SECRET-REFRESH-1"])
      }))

    it.scoped("a refresh failure that is not a rejection fails the callers and leaves the state Failed", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const session = yield* AuthSession.make(fake.options("rot-transient"))
        const seen = yield* session.token
        yield* fake.fail("refresh", 503)
        yield* session.invalidate(seen)
        const error = yield* Effect.flip(session.token)
        assert.strictEqual(error._tag, "ProviderError")
        assert.deepStrictEqual(yield* session.state, { _tag: "Failed", error: "provider answered 503" })
        // Not cached, and the refresh token is still used.
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-2")
        assert.deepStrictEqual(yield* fake.calls, [
          "login",
          "refresh:SECRET-REFRESH-1",
          "refresh:SECRET-REFRESH-1"
        ])
      }))

    it.scoped("a compare-and-set conflict adopts the store's valid token", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ delay: "1 second" })
        const store = TokenStore.unsafeMakeMemory()
        const session = yield* AuthSession.make(fake.options("rot-cas")).pipe(
          Effect.provideService(TokenStore.TokenStore, store)
        )
        const caller = yield* Effect.fork(session.token)
        // Another instance logs in while ours is waiting for the provider.
        const sibling = yield* fake.issue(true)
        yield* store.set("rot-cas-session", sibling, undefined)
        yield* advance("1 second")
        assert.strictEqual(access(yield* Fiber.join(caller)), access(sibling))
        assert.strictEqual(Option.getOrThrow(yield* store.get("rot-cas-session")).version, 1)
      }))

    it.scoped("logout revokes, forgets the token and clears the store", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const store = TokenStore.unsafeMakeMemory()
        const session = yield* AuthSession.make(fake.options("rot-logout")).pipe(
          Effect.provideService(TokenStore.TokenStore, store)
        )
        yield* session.token
        yield* session.logout
        assert.deepStrictEqual(yield* fake.calls, ["login", "revoke:SECRET-ACCESS-1"])
        assert.isTrue(Option.isNone(yield* store.get("rot-logout-session")))
        assert.deepStrictEqual(yield* session.state, { _tag: "Empty" })
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-2")
        assert.deepStrictEqual(yield* fake.calls, ["login", "revoke:SECRET-ACCESS-1", "login"])
      }))
    it.scoped("logout forgets the token even when the revoke fails, and returns the revoke's error", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const store = TokenStore.unsafeMakeMemory()
        const session = yield* AuthSession.make(fake.options("rot-logout-fail")).pipe(
          Effect.provideService(TokenStore.TokenStore, store)
        )
        yield* session.token
        yield* fake.fail("revoke", 503)
        const error = yield* Effect.flip(session.logout)
        assert.strictEqual(error.status, 503)
        assert.isTrue(Option.isNone(yield* store.get("rot-logout-fail-session")))
        assert.deepStrictEqual(yield* session.state, { _tag: "Empty" })
        assert.strictEqual(access(yield* session.token), "SECRET-ACCESS-2")
      }))
  })

  describe("observability", () => {
    it.scoped("metrics count where SessionMetrics.layer is provided, and nothing without it", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const metered = yield* AuthSession.make(fake.options("metrics-on")).pipe(
          Effect.provide(SessionMetrics.layer)
        )
        const quiet = yield* AuthSession.make(fake.options("metrics-off"))
        for (const session of [metered, quiet]) {
          const seen = yield* session.token
          yield* fake.fail("refresh", 503)
          yield* session.invalidate(seen)
          yield* Effect.flip(session.token)
        }
        assert.strictEqual(yield* counterValue(SessionMetrics.logins, "metrics-on"), 1)
        assert.strictEqual(yield* counterValue(SessionMetrics.refreshes, "metrics-on"), 1)
        assert.strictEqual(yield* counterValue(SessionMetrics.failures, "metrics-on"), 1)
        for (const metric of [SessionMetrics.logins, SessionMetrics.refreshes, SessionMetrics.failures]) {
          assert.strictEqual(yield* counterValue(metric, "metrics-off"), 0)
        }
      }))

    it.effect("changes streams Valid, Refreshing, Failed, Unpersisted and Closed, then ends", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const inner = yield* TokenStore.makeMemory
        let failing = 1
        const flaky = TokenStore.make({
          ...inner,
          set: (key, tokens, expected) =>
            failing-- > 0
              ? Effect.fail(new TokenStore.TokenStoreError({ operation: "set", key, description: "store is down" }))
              : inner.set(key, tokens, expected)
        })
        const scope = yield* Scope.make()
        const session = yield* AuthSession.make(fake.options("changes")).pipe(
          Effect.provideService(TokenStore.TokenStore, flaky),
          Scope.extend(scope)
        )
        const states = yield* Effect.fork(Stream.runCollect(AuthSession.changes(session)))
        yield* Effect.yieldNow()
        const first = yield* session.token
        yield* advance("1 second")
        yield* fake.fail("refresh", 503)
        yield* Effect.flip(session.refresh)
        yield* Scope.close(scope, Exit.void)
        // The stream ends by itself once the session is closed.
        const seen = Chunk.toReadonlyArray(yield* Fiber.join(states))
        assert.deepStrictEqual(seen.map((state) => state._tag), [
          "Empty",
          "Refreshing",
          "Unpersisted",
          "Valid",
          "Refreshing",
          "Failed",
          "Closed"
        ])
        assert.deepInclude(seen[2], { expiresAt: first.expiresAt })
        assert.deepStrictEqual(seen[3], { _tag: "Valid", expiresAt: first.expiresAt })
        assert.deepStrictEqual(seen[5], { _tag: "Failed", error: "provider answered 503" })
        // Watching a closed session gives its state and ends at once.
        assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Stream.runCollect(AuthSession.changes(session))), [
          { _tag: "Closed" }
        ])
      }))

    it.scoped("spans carry provider and session, metrics count, and no secret appears anywhere", () =>
      captureLogs((lines) =>
        Effect.gen(function*() {
          const fake = yield* makeFake({ lifetime: 600 })
          const captured: Array<unknown> = []
          // Five requests within two seconds: pacing is not what this test is about.
          const session = yield* AuthSession.make({ ...fake.options("obs"), jitter: 0, minRefreshInterval: 0 })
          const states = yield* Effect.fork(Stream.runCollect(AuthSession.changes(session)))
          yield* Effect.yieldNow()

          // login, a proactive refresh that fails then succeeds, a rejected refresh, a reauth.
          yield* session.token
          yield* fake.fail("refresh", 503)
          yield* advance("540 seconds")
          // The retry after the 503 is due about a second after the failure, which the event loop
          // may reach late on a loaded machine: move on only once the retry has landed.
          yield* advance("3 seconds").pipe(
            Effect.zipRight(Effect.all([fake.count("refresh"), session.state])),
            Effect.repeat({ until: ([refreshes, state]) => refreshes >= 2 && state._tag === "Valid" })
          )
          const current = yield* session.token
          yield* fake.fail("refresh", 400)
          yield* fake.fail("login", 401)
          yield* session.invalidate(current)
          captured.push(yield* Effect.flip(session.token))
          captured.push(yield* session.token)
          yield* session.logout
          yield* Fiber.interrupt(states)
          const seenStates = Chunk.toReadonlyArray(Option.getOrElse(
            Exit.match(yield* Fiber.await(states), {
              onFailure: () => Option.none(),
              onSuccess: Option.some
            }),
            () => Chunk.empty()
          ))
          captured.push(yield* session.state)

          // Spans: names and attributes.
          assert.deepStrictEqual(
            fake.spans.map((span) => span.name),
            [
              "effect-auth.login",
              "effect-auth.refresh",
              "effect-auth.refresh",
              "effect-auth.refresh",
              "effect-auth.login",
              "effect-auth.login",
              "effect-auth.revoke"
            ]
          )
          // The session is labelled by a digest of its key: keys often name a person.
          for (const span of fake.spans) {
            assert.strictEqual(span.attributes["effect-auth.provider"], "obs")
            assert.match(String(span.attributes["effect-auth.session"]), /^obs:[0-9a-f]{8}$/)
          }
          assert.isFalse(lines.some((line) => line.includes("obs-session")))
          assert.strictEqual(yield* counterValue(SessionMetrics.logins, "obs"), 3)
          assert.strictEqual(yield* counterValue(SessionMetrics.refreshes, "obs"), 3)
          assert.strictEqual(yield* counterValue(SessionMetrics.failures, "obs"), 3)
          assert.isTrue(lines.some((line) => line.startsWith("WARN") && line.includes("provider answered 503")))

          const everything = [...captured, ...lines, ...fake.spans, ...seenStates]
          assert.isAbove(everything.length, 5)
          for (const item of everything) {
            expect(String(item)).not.toContain("SECRET")
            expect(JSON.stringify(item)).not.toContain("SECRET")
          }
        }).pipe(Effect.provide(SessionMetrics.layer))
      ))
  })

  describe("hardening", () => {
    /**
     * Calls `token` `times` times, `every` apart on the test clock (a paced caller may still be
     * waiting when the next one starts), and counts the failures.
     */
    const callRepeatedly = <E>(
      session: AuthSession.AuthSession<E, unknown>,
      times: number,
      every: Duration.DurationInput
    ) =>
      Effect.gen(function*() {
        const calls: Array<Fiber.RuntimeFiber<Either.Either<TokenSet.TokenSet, unknown>>> = []
        for (let i = 0; i < times; i++) {
          calls.push(yield* Effect.fork(Effect.either(session.token)))
          yield* TestClock.adjust(every)
        }
        yield* TestClock.adjust("2 seconds")
        const results = yield* Fiber.joinAll(calls)
        return results.filter((result) => result._tag === "Left").length
      })

    it.scoped("20 ms tokens are fetched at a bounded pace, not 87 times a second", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ lifetime: 0.02 })
        const session = yield* AuthSession.make({ ...fake.options("storm-short"), jitter: 0 })
        yield* callRepeatedly(session, 200, "50 millis")
        // 10 seconds: a burst of refreshBurst, then one per minRefreshInterval (1 second).
        const sent = (yield* fake.count("login")) + (yield* fake.count("refresh"))
        assert.isAtMost(sent, AuthSession.refreshBurst + 11)
        assert.isAtLeast(sent, 5)
      }))

    it.scoped("tokens already expired on arrival are paced and reported, not fetched once per call", () =>
      captureLogs((lines) =>
        Effect.gen(function*() {
          const fake = yield* makeFake({ lifetime: 0 })
          const session = yield* AuthSession.make(fake.options("storm-dead"))
          yield* callRepeatedly(session, 100, "50 millis")
          const sent = (yield* fake.count("login")) + (yield* fake.count("refresh"))
          assert.isAtMost(sent, AuthSession.refreshBurst + 6)
          assert.isTrue(lines.some((line) => line.includes("issued a token that had already expired")))
        })
      ))

    it.scoped("a refresh that keeps failing: callers get the failure within a backoff window, without a request", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        yield* fake.fail("login", ...Array.from({ length: 100 }, () => 500))
        const session = yield* AuthSession.make(fake.options("storm-failing"))
        const failed = yield* callRepeatedly(session, 40, "100 millis")
        assert.strictEqual(failed, 40)
        // 4 seconds: two at once, then windows of 1 s and 2 s between requests.
        assert.isAtMost(yield* fake.count("login"), 5)
        // A success closes the window for good.
        yield* Ref.set(fake.queued, [])
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(access(yield* session.token).startsWith("SECRET-ACCESS-"), true)
      }))

    it.effect("a session used after its scope closed fails with SessionClosed", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const scope = yield* Scope.make()
        const session = yield* AuthSession.make(fake.options("closed-after")).pipe(Scope.extend(scope))
        yield* session.token
        yield* Scope.close(scope, Exit.void)
        for (const effect of [session.token, session.refresh, Effect.asVoid(session.accessToken)]) {
          const error = yield* Effect.flip(effect)
          assert.instanceOf(error, AuthSession.SessionClosed)
          assert.include(error.message, "closed")
        }
        assert.deepStrictEqual(yield* fake.calls, ["login"])
      }))

    it.scoped("a store write that fails is retried in the background until it lands; the state says so", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const inner = yield* TokenStore.makeMemory
        let failing = 3
        const flaky = TokenStore.make({
          ...inner,
          set: (key, tokens, expected) =>
            failing-- > 0
              ? Effect.fail(new TokenStore.TokenStoreError({ operation: "set", key, description: "store is down" }))
              : inner.set(key, tokens, expected)
        })
        const session = yield* AuthSession.make(fake.options("persist-later")).pipe(
          Effect.provideService(TokenStore.TokenStore, flaky)
        )
        const tokens = yield* session.token
        assert.strictEqual(access(tokens), "SECRET-ACCESS-1")
        assert.deepInclude(yield* session.state, { _tag: "Unpersisted" })
        assert.isTrue(Option.isNone(yield* inner.get("persist-later-session")))
        yield* advance("1 minute")
        const stored = yield* inner.get("persist-later-session")
        assert.strictEqual(access(Option.getOrThrow(stored).tokens), "SECRET-ACCESS-1")
        assert.deepInclude(yield* session.state, { _tag: "Valid" })
        assert.isAtLeast(yield* counterValue(SessionMetrics.storeWriteFailures, "persist-later"), 3)

        // The next refresh writes over the version the background writer left.
        const next = yield* session.refresh
        assert.strictEqual(access(Option.getOrThrow(yield* inner.get("persist-later-session")).tokens), access(next))
      }).pipe(Effect.provide(SessionMetrics.layer)))

    it.scoped("an older pending write never overwrites a newer token", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake()
        const inner = yield* TokenStore.makeMemory
        let down = true
        const flaky = TokenStore.make({
          ...inner,
          set: (key, tokens, expected) =>
            down
              ? Effect.fail(new TokenStore.TokenStoreError({ operation: "set", key, description: "store is down" }))
              : inner.set(key, tokens, expected)
        })
        const session = yield* AuthSession.make(fake.options("persist-order")).pipe(
          Effect.provideService(TokenStore.TokenStore, flaky)
        )
        yield* session.token
        yield* session.refresh
        down = false
        const newest = yield* session.refresh
        yield* advance("1 minute")
        const stored = Option.getOrThrow(yield* inner.get("persist-order-session"))
        assert.strictEqual(access(stored.tokens), access(newest))
        assert.strictEqual(stored.version, 1)
      }))

    it.scoped("a session adopts the token another session on the same store refreshed, and re-arms", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ lifetime: 600 })
        const store = yield* TokenStore.makeMemory
        const options = { ...fake.options("notify"), jitter: 0 }
        const [a, b] = yield* Effect.all([AuthSession.make(options), AuthSession.make(options)]).pipe(
          Effect.provideService(TokenStore.TokenStore, store)
        )
        const first = yield* a.token
        assert.strictEqual(access(yield* b.token), access(first))
        yield* advance("2 minutes")
        const forced = yield* a.refresh
        // B heard of it from the store: the new token, no request of its own.
        assert.strictEqual(access(yield* b.token), access(forced))
        assert.deepStrictEqual(yield* b.state, { _tag: "Valid", expiresAt: forced.expiresAt })
        // Both scheduled refreshes now follow the new expiry: one refresh for it, not two.
        yield* advance("9 minutes")
        assert.strictEqual(yield* fake.count("refresh"), 2)
        assert.strictEqual(access(yield* a.token), access(yield* b.token))
      }))

    it.effect("closed sessions leave the shared timer at once, with one long-lived session open", () =>
      Effect.gen(function*() {
        const fake = yield* makeFake({ lifetime: 3600 })
        const longLived = yield* Scope.make()
        yield* Effect.flatMap(AuthSession.make(fake.options("timer-long")), (session) => session.token).pipe(
          Scope.extend(longLived)
        )
        const clock = yield* Effect.clock
        const timer = timerFor(clock)
        const before = timer.size
        for (let i = 0; i < 10_000; i++) {
          const scope = yield* Scope.make()
          const initial = yield* fake.issue(true)
          yield* AuthSession.make({ ...fake.options(`timer-${i}`), initial }).pipe(Scope.extend(scope))
          yield* Scope.close(scope, Exit.void)
        }
        assert.strictEqual(timer.size, before)
        yield* Scope.close(longLived, Exit.void)
      }))
  })
})

describe("AuthSession error types and store", () => {
  class LoginRefused extends Schema.TaggedError<LoginRefused>()("LoginRefused", {}) {}
  class RefreshDead extends Schema.TaggedError<RefreshDead>()("RefreshDead", {}) {}
  class RefreshFlaky extends Schema.TaggedError<RefreshFlaky>()("RefreshFlaky", {}) {}
  class RevokeRefused extends Schema.TaggedError<RevokeRefused>()("RevokeRefused", {}) {}

  const tokens = TokenSet.fromExpiresIn({
    accessToken: Redacted.make("SECRET-ACCESS"),
    refreshToken: Redacted.make("SECRET-REFRESH"),
    expiresIn: 3600
  })
  const login: Effect.Effect<TokenSet.TokenSet, LoginRefused> = tokens
  const refresh = (_: Redacted.Redacted<string>): Effect.Effect<TokenSet.TokenSet, RefreshDead | RefreshFlaky> => tokens
  const isRefreshRejected = (error: RefreshDead | RefreshFlaky): error is RefreshDead => error._tag === "RefreshDead"

  it.scoped("with a login: its errors and the refresh errors not recognised as rejections", () =>
    Effect.gen(function*() {
      const session = yield* AuthSession.make({
        provider: "types",
        key: "types-login",
        login,
        refresh,
        isRefreshRejected,
        revoke: (): Effect.Effect<void, RevokeRefused> => Effect.void
      })
      const handled: Effect.Effect<string> = session.token.pipe(
        Effect.as("token"),
        Effect.catchTags({
          LoginRefused: () => Effect.succeed("login"),
          RefreshFlaky: () => Effect.succeed("flaky"),
          SessionClosed: () => Effect.succeed("closed")
        })
      )
      session.token.pipe(Effect.catchTags({
        // @ts-expect-error a recognised rejection is answered by logging in, never returned
        RefreshDead: () => Effect.void
      }))
      session.token.pipe(Effect.catchTags({
        // @ts-expect-error a session that can log in never needs reauthentication
        ReauthenticationRequired: () => Effect.void
      }))
      const logout: Effect.Effect<void, RevokeRefused> = session.logout
      // @ts-expect-error logout fails with revoke's errors only
      const wrongLogout: Effect.Effect<void, LoginRefused> = session.logout
      assert.strictEqual(yield* handled, "token")
      assert.isDefined([logout, wrongLogout])
    }))

  it.scoped("without a login: the unrecognised refresh errors and ReauthenticationRequired", () =>
    Effect.gen(function*() {
      const session = yield* AuthSession.make({ provider: "types", key: "types-none", refresh, isRefreshRejected })
      // @ts-expect-error without a ReauthenticationRequired handler the channel is not empty
      const unhandled: Effect.Effect<string> = session.token.pipe(
        Effect.as("token"),
        Effect.catchTags({ RefreshFlaky: () => Effect.succeed("flaky"), SessionClosed: () => Effect.succeed("closed") })
      )
      const error = yield* Effect.flip(session.token)
      assert.strictEqual(error._tag, "ReauthenticationRequired")
      assert.isDefined(unhandled)
    }))

  it.scoped("a store given in the options is used instead of the one in context", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      const context = yield* TokenStore.makeMemory
      const session = yield* AuthSession.make({ provider: "store", key: "store-option", login, store }).pipe(
        Effect.provideService(TokenStore.TokenStore, context)
      )
      yield* session.token
      assert.isTrue(Option.isSome(yield* store.get("store-option")))
      assert.isTrue(Option.isNone(yield* context.get("store-option")))
    }))
})

describe("AuthSession.lazy", () => {
  it.scoped("calls its function with its service and input each time it runs, never before", () =>
    Effect.gen(function*() {
      const calls: Array<readonly [string, number]> = []
      const login = AuthSession.lazy(
        (service: string, input: number) =>
          Effect.sync(() => {
            calls.push([service, input])
            return TokenSet.fromExpiresAt({ accessToken: Redacted.make(`lazy-${calls.length}`) })
          }),
        "service",
        7
      )
      const session = yield* AuthSession.make({ provider: "lazy", key: "lazy", login })
      assert.deepStrictEqual(calls, [])
      assert.strictEqual(Redacted.value((yield* session.token).accessToken), "lazy-1")
      assert.strictEqual(Redacted.value((yield* session.refresh).accessToken), "lazy-2")
      assert.deepStrictEqual(calls, [["service", 7], ["service", 7]])
    }))
})
