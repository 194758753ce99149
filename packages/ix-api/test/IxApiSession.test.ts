import * as IxApiAuth from "@effect-auth/ix-api/IxApiAuth"
import * as IxApiSession from "@effect-auth/ix-api/IxApiSession"
import * as FakeIxApi from "@effect-auth/testing/FakeIxApi"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"

const start = 1_735_689_600_000
const baseUrl = "https://ixp.test/api/v2"
const apiKey = "ix-key-7f3a"
const apiSecret = "ix-5ecret-c0ffee"
const credentials: IxApiAuth.Credentials = { apiKey: Redacted.make(apiKey), apiSecret: Redacted.make(apiSecret) }

const setup = (options: FakeIxApi.Options = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(start)
    const fake = yield* FakeIxApi.make({ apiKeys: [{ apiKey, apiSecret }], ...options })
    const service = yield* IxApiSession.make({ credentials, skew: "60 seconds", jitter: 0 }).pipe(
      Effect.provide(IxApiAuth.layer({ baseUrl }).pipe(Layer.provideMerge(FakeServer.layerClient(fake.server))))
    )
    return { fake, ...service }
  })

const requestLines = (fake: FakeIxApi.FakeIxApi) =>
  Effect.map(fake.server.requests, (requests) => requests.map((request) => `${request.method} ${request.path}`))

const accounts = (client: IxApiSession.Service["client"]) =>
  Effect.flatMap(client.get("/accounts"), (response) => Effect.map(response.json, (json) => [response.status, json]))

const token = "POST /api/v2/auth/token"
const refresh = "POST /api/v2/auth/refresh"
const list = "GET /api/v2/accounts"

describe("IxApiSession", () => {
  it.scoped("creates a token on first use and refreshes it before the access token's JWT exp", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup()
      assert.deepStrictEqual(yield* requestLines(fake), [])
      const first = yield* session.token
      assert.strictEqual(first.expiresAt, start + 300_000)
      yield* TestClock.adjust("239 seconds")
      assert.deepStrictEqual(yield* requestLines(fake), [token])
      yield* TestClock.adjust("1 second")
      // 60 seconds (the skew) before exp: refreshed while the old access token is still valid.
      assert.deepStrictEqual(yield* requestLines(fake), [token, refresh])
      const second = yield* session.token
      assert.notStrictEqual(Redacted.value(second.accessToken), Redacted.value(first.accessToken))
      assert.strictEqual(second.expiresAt, start + 240_000 + 300_000)
      // And again before the next exp, always presenting the latest refresh token.
      yield* TestClock.adjust("240 seconds")
      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map((request) => request.path), [
        "/api/v2/auth/token",
        "/api/v2/auth/refresh",
        "/api/v2/auth/refresh"
      ])
      assert.deepStrictEqual(JSON.parse(requests[2].body), { refresh_token: Redacted.value(second.refreshToken!) })
      assert.deepStrictEqual(yield* fake.issued, { created: 1, refreshed: 2 })
    }))

  it.scoped("a refresh token known to have expired (its JWT exp) leads to createToken, not a refresh", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup({ accessLifetime: "10 minutes", refreshLifetime: "5 minutes" })
      yield* session.token
      yield* TestClock.adjust("540 seconds")
      assert.deepStrictEqual(yield* requestLines(fake), [token, token])
      assert.strictEqual((yield* session.token).expiresAt, start + 540_000 + 600_000)
    }))

  it.scoped("a refresh answered 401 signature-expired leads to a new createToken", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup()
      const first = yield* session.token
      yield* fake.server.inject(
        Fault.status(401, {
          path: "/api/v2/auth/refresh",
          body: JSON.stringify({
            type: "https://errors.ix-api.net/v2/signature-expired.html",
            title: "Signature Expired",
            status: 401
          })
        })
      )
      yield* TestClock.adjust("240 seconds")
      assert.deepStrictEqual(yield* requestLines(fake), [token, refresh, token])
      const second = yield* session.token
      assert.notStrictEqual(Redacted.value(second.accessToken), Redacted.value(first.accessToken))
      assert.strictEqual((yield* session.state)._tag, "Valid")
    }))

  it.scoped("a refresh token the server revoked (401 authentication-error) leads to createToken too", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup()
      yield* session.token
      yield* fake.revokeTokens("refresh")
      const renewed = yield* session.refresh
      assert.deepStrictEqual(yield* requestLines(fake), [token, refresh, token])
      assert.isTrue(Option.isSome(fake.verify(Redacted.value(renewed.accessToken))))
    }))

  it.scoped("a 401 from /accounts triggers one refresh and one retry with the new token", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup()
      assert.deepStrictEqual(yield* accounts(client), [200, [{
        id: "ACC-1",
        name: apiKey,
        state: "production",
        managing_account: null
      }]])
      yield* fake.revokeTokens("access")
      const [status] = yield* accounts(client)
      assert.strictEqual(status, 200)
      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map((request) => `${request.method} ${request.path}`), [
        token,
        list,
        list,
        refresh,
        list
      ])
      assert.strictEqual(requests[1].headers["authorization"], requests[2].headers["authorization"])
      assert.notStrictEqual(requests[2].headers["authorization"], requests[4].headers["authorization"])
      assert.match(requests[4].headers["authorization"], /^Bearer ey/)
    }))

  it.scoped("tokens that are not JWTs: no scheduled refresh; renewed only when the server answers 401", () =>
    Effect.gen(function*() {
      const { client, fake, session } = yield* setup({ tokenFormat: "opaque" })
      const first = yield* session.token
      assert.isUndefined(first.expiresAt)
      assert.strictEqual((yield* accounts(client))[0], 200)
      // Far past the server's 5 minute lifetime: nothing is sent until a request is refused.
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(yield* requestLines(fake), [token, list])
      assert.strictEqual((yield* accounts(client))[0], 200)
      assert.deepStrictEqual(yield* requestLines(fake), [token, list, list, refresh, list])
    }))

  it.scoped("a JWT without exp is handled the same way", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup({ tokenFormat: "jwt-without-exp" })
      assert.strictEqual((yield* accounts(client))[0], 200)
      yield* TestClock.adjust("6 minutes")
      assert.strictEqual((yield* accounts(client))[0], 200)
      assert.deepStrictEqual(yield* requestLines(fake), [token, list, list, refresh, list])
    }))

  it.scoped("a refresh whose connection resets is never presented again: the session creates a new token", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup()
      yield* fake.server.inject(Fault.reset({ path: "/api/v2/auth/token" }))
      const fiber = yield* Effect.fork(session.token)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* requestLines(fake), [token, token])

      yield* fake.server.clearRequests
      yield* fake.server.inject(Fault.reset({ path: "/api/v2/auth/refresh" }))
      const refreshing = yield* Effect.fork(session.refresh)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(refreshing)
      // The refresh token may have been spent by the request whose answer was lost: instead of
      // presenting it again, the session creates a token from its key and secret.
      assert.deepStrictEqual(yield* requestLines(fake), [refresh, token])
    }))

  it.scoped("wrong credentials fail token with the typed AuthenticationError", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const fake = yield* FakeIxApi.make({ apiKeys: [{ apiKey, apiSecret: "another" }] })
      const { session } = yield* IxApiSession.make({ credentials }).pipe(
        Effect.provide(IxApiAuth.layer({ baseUrl }).pipe(Layer.provideMerge(FakeServer.layerClient(fake.server))))
      )
      const error = yield* Effect.flip(session.token)
      assert(error._tag === "AuthenticationError")
      assert.strictEqual(error.reason, "authentication-error")
      const state = yield* session.state
      assert.strictEqual(state._tag, "Failed")
      assert.notInclude(JSON.stringify(state), apiSecret)
    }))

  it.scoped("the default store key names the IXP and a hash of the API key, never the key itself", () =>
    Effect.gen(function*() {
      const { session } = yield* setup()
      assert.match(session.key, /^ix-api:https:\/\/ixp\.test\/api\/v2:[0-9a-f]+$/)
      assert.notInclude(session.key, apiKey)
    }))

  it.scoped("layerConfig reads IXAPI_BASE_URL, IXAPI_API_KEY and IXAPI_API_SECRET", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const fake = yield* FakeIxApi.make({ apiKeys: [{ apiKey, apiSecret }] })
      const config = Layer.setConfigProvider(ConfigProvider.fromMap(
        new Map([["IXAPI_BASE_URL", baseUrl], ["IXAPI_API_KEY", apiKey], ["IXAPI_API_SECRET", apiSecret]])
      ))
      const layer = IxApiSession.layerConfig().pipe(
        Layer.provideMerge(IxApiAuth.layerConfig()),
        Layer.provide([FakeServer.layerClient(fake.server), config])
      )
      yield* Effect.gen(function*() {
        const { client } = yield* IxApiSession.IxApiSession
        assert.strictEqual((yield* accounts(client))[0], 200)
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(yield* requestLines(fake), [token, list])
    }))

  it.effect("layerConfig without IXAPI_API_SECRET is a ConfigError", () =>
    Effect.gen(function*() {
      const fake = yield* FakeIxApi.make()
      const config = Layer.setConfigProvider(ConfigProvider.fromMap(
        new Map([["IXAPI_BASE_URL", baseUrl], ["IXAPI_API_KEY", apiKey]])
      ))
      const error = yield* IxApiSession.IxApiSession.pipe(
        Effect.provide(
          IxApiSession.layerConfig().pipe(
            Layer.provide(IxApiAuth.layerConfig()),
            Layer.provide([FakeServer.layerClient(fake.server), config])
          )
        ),
        Effect.scoped,
        Effect.flip
      )
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(String(error), "IXAPI_API_SECRET")
    }))
})
