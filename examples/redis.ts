/**
 * Two processes, one identity, one refresh: `@effect-auth/redis` end to end.
 *
 * ```sh
 * npm run example:redis                    # a redis-server started for the example (Debian: apt-get install redis-server)
 * REDIS_URL=redis://... npm run example:redis
 * ```
 *
 * The example starts a fake Occam on a localhost port (tokens live 3 seconds, refresh tokens
 * rotate and a reused one is rejected) and Redis, then runs itself twice more as two separate
 * Node processes. Each builds its own Occam session on the shared `RedisTokenStore` (encrypted
 * with a key made for this run), calls the protected route, and waits until its token is
 * replaced. One process logs in and the other adopts its token from Redis; when the token nears
 * its end one of them refreshes, under the refresh lease, and the other hears of it and adopts
 * the new token instead of refreshing again. The fake counts one login and one refresh.
 *
 * @since 0.1.0
 */
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as SessionMetrics from "@effect-auth/core/SessionMetrics"
import * as OccamAuth from "@effect-auth/occam/OccamAuth"
import * as OccamSession from "@effect-auth/occam/OccamSession"
import * as RedisTokenStore from "@effect-auth/redis/RedisTokenStore"
import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as NodeRedisServer from "@effect-auth/testing/NodeRedisServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as FakeCredentials from "./FakeCredentials.js"
import { fingerprint } from "./Narration.js"
import * as Narration from "./Narration.js"

const lifetime = 3_000

/** One of the two processes: `EXAMPLE_NAME` says which. */
const session = Effect.gen(function*() {
  const name = process.env.EXAMPLE_NAME ?? "?"
  const say = (line: string) => Effect.sync(() => console.log(`  [${name}] ${line}`))
  const { client, session } = yield* OccamSession.OccamSession

  const first = yield* session.token
  const response = yield* client.get(FakeOccam.protectedPath)
  yield* say(`GET ${FakeOccam.protectedPath} → ${response.status} with access token ${fingerprint(first.accessToken)}`)
  // Until the token is replaced: by this process's own refresh, or by the other's, adopted.
  const later = yield* AuthSession.changes(session).pipe(
    Stream.filter((state) => state._tag === "Valid"),
    Stream.mapEffect(() => session.token),
    Stream.filter((tokens) => Redacted.value(tokens.accessToken) !== Redacted.value(first.accessToken)),
    Stream.runHead,
    Effect.flatten,
    Effect.timeout(lifetime * 2)
  )
  const again = yield* client.get(FakeOccam.protectedPath)
  const sent = yield* Metric.value(Metric.tagged(SessionMetrics.refreshes, "provider", OccamAuth.provider))
  yield* say(
    `GET ${FakeOccam.protectedPath} → ${again.status} with access token ${fingerprint(later.accessToken)} ` +
      `(${
        sent.count === 0
          ? "adopted from Redis: this process sent no refresh"
          : `this process sent ${sent.count} refresh`
      })`
  )
})

// Refresh 0.5 to 0.8 s before expiry (at random, so the two processes do not fire together).
const SessionLive = OccamSession.layerConfig({ key: "occam:example", skew: "500 millis", jitter: "300 millis" }).pipe(
  Layer.provide(RedisTokenStore.layerConfig({ owner: `pid:${process.pid}` })),
  // Count the session's requests (`SessionMetrics.refreshes` below).
  Layer.provide(SessionMetrics.layer),
  Layer.provideMerge(OccamAuth.layerConfig()),
  Layer.provide(NodeHttpClient.layerUndici)
)

/** Runs this file again as a separate process and waits for it to end. */
const spawnSession = (name: string, env: Record<string, string>) =>
  Effect.async<number | null>((resume) => {
    const child = ChildProcess.spawn(process.execPath, [...process.execArgv, import.meta.filename], {
      env: { ...process.env, ...env, EXAMPLE_NAME: name },
      stdio: ["ignore", "inherit", "inherit"]
    })
    child.on("exit", (code) => resume(Effect.succeed(code)))
    return Effect.sync(() => void child.kill())
  })

const main = Effect.gen(function*() {
  const redis = Option.getOrUndefined(yield* NodeRedisServer.fromEnvironment)
  if (redis === undefined) {
    console.log(
      "Redis example · needs Redis: install redis-server (Debian: apt-get install redis-server) or set REDIS_URL"
    )
    return
  }
  const fake = yield* FakeOccam.make({
    accounts: [FakeCredentials.occam],
    accessTokenLifetime: lifetime,
    expiresAtUnit: "milliseconds"
  })
  const { url } = yield* NodeFakeServer.serve(fake.server)
  console.log(
    `Redis example · two processes share one Occam identity through ${
      redis.owned ? "a redis-server started for it" : "REDIS_URL"
    }`
  )
  console.log(`  fake Occam on ${url}: tokens live ${lifetime / 1000} s, refresh tokens rotate, reuse is rejected`)
  const env = {
    REDIS_URL: redis.url,
    // A key made for this run: what reaches Redis is sealed with it.
    EFFECT_AUTH_REDIS_KEY: Crypto.randomBytes(32).toString("base64"),
    OCCAM_BASE_URL: url,
    OCCAM_USERNAME: FakeCredentials.occam.username,
    OCCAM_PASSWORD: FakeCredentials.occam.password
  }
  const started = yield* Clock.currentTimeMillis
  const codes = yield* Effect.all([spawnSession("A", env), spawnSession("B", env)], { concurrency: "unbounded" })
  const requests = yield* fake.server.requests
  const count = (path: string) =>
    requests.filter((request) => request.method === "POST" && request.path === path).length
  const elapsed = (yield* Clock.currentTimeMillis) - started
  console.log(
    `  ✓ the fake saw ${count("/auth/access-token")} login and ${count("/auth/refresh-token")} refresh ` +
      `for two processes over ${Narration.duration(elapsed)} (exit codes ${codes.join(", ")})`
  )
  if (codes.some((code) => code !== 0)) return yield* Effect.fail(new Error("a session process failed"))
})

const program: Effect.Effect<void, unknown> = process.env.EXAMPLE_NAME === undefined
  ? Effect.asVoid(Effect.scoped(main))
  : Effect.scoped(session).pipe(Effect.provide(SessionLive))

Narration.runMain(program)
