/**
 * One process of the soak: its own Occam session for the shared identity, on the shared Redis
 * store, calling the protected route from a few concurrent callers until the parent says stop,
 * then reporting its counts to the parent over IPC. The parent may SIGKILL it instead.
 *
 * Configuration comes from the environment the parent sets: `REDIS_URL`,
 * `EFFECT_AUTH_REDIS_KEY`, `SOAK_FAKE_URL`, `SOAK_USERNAME`, `SOAK_PASSWORD`, `SOAK_CALLERS`,
 * `SOAK_PAUSE_MS`, `SOAK_LEASE_TTL_MS`.
 *
 * @since 0.1.0
 */
import * as OccamAuth from "@effect-auth/occam/OccamAuth"
import * as OccamSession from "@effect-auth/occam/OccamSession"
import * as RedisTokenStore from "@effect-auth/redis/RedisTokenStore"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"

/** What each process reports. */
export interface Report {
  readonly pid: number
  readonly requests: number
  readonly ok: number
  readonly failed: number
  readonly failures: Record<string, number>
}

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const callers = Number(process.env.SOAK_CALLERS ?? "2")
const pause = Duration.millis(Number(process.env.SOAK_PAUSE_MS ?? "100"))

const SessionLive = OccamSession.layer({
  credentials: { username: env("SOAK_USERNAME"), password: Redacted.make(env("SOAK_PASSWORD")) },
  key: "occam:soak",
  // Alarms spread over the last 700 to 1000 ms of a 2 s token, as skew and jitter spread them over
  // minutes for real lifetimes: the first process refreshes, the others hear of it and re-arm.
  skew: "700 millis",
  jitter: "600 millis"
}).pipe(
  Layer.provide(RedisTokenStore.layerConfig({
    owner: `pid:${process.pid}`,
    leaseTtl: Duration.millis(Number(process.env.SOAK_LEASE_TTL_MS ?? "2000")),
    // Eight processes and the fake share a few cores: a busy event loop must not pass for a
    // Redis that does not answer.
    timeout: "2 seconds"
  })),
  Layer.provideMerge(OccamAuth.layer({ baseUrl: env("SOAK_FAKE_URL") })),
  Layer.provide(NodeHttpClient.layerUndici)
)

const main = Effect.gen(function*() {
  const { client } = yield* OccamSession.OccamSession
  const stop = yield* Deferred.make<void>()
  process.on("message", (message) => {
    if (message === "stop") Deferred.unsafeDone(stop, Effect.void)
  })
  const counts = { requests: 0, ok: 0, failed: 0, failures: {} as Record<string, number> }
  const fail = (why: string) => {
    counts.failed++
    counts.failures[why] = (counts.failures[why] ?? 0) + 1
  }
  const call = client.get("/me").pipe(
    Effect.flatMap((response) => Effect.as(response.text, response.status)),
    Effect.timeout("10 seconds"),
    Effect.match({
      onSuccess: (status) => status === 200 ? counts.ok++ : fail(`status ${status}`),
      onFailure: (error) => fail(error._tag)
    }),
    Effect.tap(() => counts.requests++)
  )
  const loop = Effect.forever(Effect.zipRight(call, Effect.sleep(pause)))
  process.send?.("ready")
  yield* Effect.raceFirst(
    Effect.all(Array.from({ length: callers }, () => loop), { concurrency: "unbounded", discard: true }),
    Deferred.await(stop)
  )
  const report: Report = { pid: process.pid, ...counts }
  yield* Effect.async<void>((resume) => {
    process.send?.({ report }, () => resume(Effect.void))
  })
})

main.pipe(
  Effect.provide(SessionLive),
  Logger.withMinimumLogLevel(LogLevel.Error),
  Effect.runPromise
).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
