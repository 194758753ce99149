// The Redis the tests of this package run against: `REDIS_URL` when set, else a `redis-server`
// started for this file on a free port. Without either the tests say so in one line and skip;
// on CI (`CI` set) a missing Redis fails instead, so CI always runs them.
import * as NodeRedisServer from "@effect-auth/testing/NodeRedisServer"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import { afterAll, beforeAll } from "vitest"

export const availability = NodeRedisServer.availability()

if (availability === undefined) {
  if (process.env.CI !== undefined && process.env.CI !== "") {
    throw new Error("CI needs Redis for these tests: install redis-server (.ci/run does) or set REDIS_URL")
  }
  process.stdout.write("@effect-auth/redis: tests skipped (no redis-server on PATH and no REDIS_URL)\n")
}

let scope: Scope.CloseableScope | undefined
let current: NodeRedisServer.RedisServer | undefined

/** Starts (or finds) the server before the file's tests and stops it after. */
export const useRedis = (): void => {
  beforeAll(async () => {
    if (availability === undefined) return
    scope = Effect.runSync(Scope.make())
    current = Option.getOrUndefined(await Effect.runPromise(Scope.extend(NodeRedisServer.fromEnvironment, scope)))
  }, 20_000)
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  })
}

export const server = (): NodeRedisServer.RedisServer => {
  if (current === undefined) throw new Error("no Redis server")
  return current
}

/** A client as `layerConfig` makes one: calls fail at once while disconnected. */
export const client = Effect.acquireRelease(
  Effect.sync(() => {
    const redis = new Redis(server().url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50
    })
    redis.on("error", () => undefined)
    return redis
  }),
  (redis) => Effect.sync(() => redis.disconnect())
)

/** Waits until a client is connected. */
export const ready = (redis: Redis) =>
  Effect.promise(() =>
    redis.status === "ready" ? Promise.resolve() : new Promise<void>((resolve) => redis.once("ready", () => resolve()))
  )

/** A fresh prefix per test, so tests sharing a server never see each other's keys. */
let prefixes = 0
export const freshPrefix = () => `test-${process.pid}-${++prefixes}:`

/** A fixed 256-bit test key (base64). */
export const testKey = Redacted.make(Buffer.alloc(32, 7).toString("base64"))
export const otherKey = Redacted.make(Buffer.alloc(32, 9).toString("base64"))
