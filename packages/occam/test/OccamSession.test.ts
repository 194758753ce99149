import * as TokenStore from "@effect-auth/core/TokenStore"
import * as OccamAuth from "@effect-auth/occam/OccamAuth"
import * as OccamSession from "@effect-auth/occam/OccamSession"
import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"

const start = 1_735_689_600_000
const username = "ada@example.com"
const password = "correct-horse-5ecret"
const apiKey = "sk-occam-5ecret-key"
const passwordCredentials = { username, password: Redacted.make(password) }

const setup = (
  credentials: OccamSession.Credentials,
  fakeOptions: FakeOccam.Options = {}
) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(start)
    const fake = yield* FakeOccam.make({ accounts: [{ username, password }], apiKeys: [apiKey], ...fakeOptions })
    const layer = OccamAuth.layer().pipe(Layer.provideMerge(FakeServer.layerClient(fake.server)))
    const service = yield* OccamSession.make({ credentials, skew: "1 minute", jitter: 0 }).pipe(Effect.provide(layer))
    const auth = yield* Effect.provide(OccamAuth.OccamAuth, layer)
    return { fake, auth, ...service }
  })

const describeRequest = (request: FakeServer.RecordedRequest) => `${request.method} ${request.path}`

const RefreshBody = Schema.parseJson(Schema.Struct({ refresh_token: Schema.String }))

/** The refresh tokens presented to the fake, in order. */
const presentedRefreshTokens = (requests: ReadonlyArray<FakeServer.RecordedRequest>) =>
  requests.filter((request) => request.path === "/auth/refresh-token").map((request) =>
    Schema.decodeUnknownSync(RefreshBody)(request.body).refresh_token
  )

const me = (client: OccamSession.Service["client"]) =>
  Effect.flatMap(client.get("/me"), (response) => Effect.map(response.json, (body) => [response.status, body]))

describe("OccamSession with a password", () => {
  it.scoped("logs in, refreshes before every expiry, and never presents a refresh token twice", () =>
    Effect.gen(function*() {
      const { client, fake, session } = yield* setup(passwordCredentials)
      const first = yield* session.token
      assert.strictEqual(session.key, "occam:ada@example.com")
      assert.strictEqual(session.provider, "occam")

      for (let i = 0; i < 4; i++) yield* TestClock.adjust("15 minutes")

      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map(describeRequest), [
        "POST /auth/access-token",
        "POST /auth/refresh-token",
        "POST /auth/refresh-token",
        "POST /auth/refresh-token",
        "POST /auth/refresh-token"
      ])
      const presented = presentedRefreshTokens(requests)
      assert.strictEqual(new Set(presented).size, presented.length)
      assert.strictEqual(presented[0], Redacted.value(first.refreshToken!))

      // Every refresh came before expiry: the current token is valid without another request.
      const current = yield* session.token
      assert.isAbove(current.expiresAt!, start + 60 * 60 * 1000)
      assert.deepStrictEqual(yield* me(client), [200, { subject: username }])
      assert.strictEqual((yield* fake.server.requests).length, 6)
    }))

  it.scoped("logs in again when the server no longer knows the refresh token (404)", () =>
    Effect.gen(function*() {
      const { client, fake, session } = yield* setup(passwordCredentials)
      yield* session.token
      yield* fake.forgetRefreshTokens
      yield* TestClock.adjust("15 minutes")

      assert.deepStrictEqual((yield* fake.server.requests).map(describeRequest), [
        "POST /auth/access-token",
        "POST /auth/refresh-token",
        "POST /auth/access-token"
      ])
      assert.deepStrictEqual(yield* me(client), [200, { subject: username }])
    }))

  it.scoped("logs in again when the server says the refresh token is used (400)", () =>
    Effect.gen(function*() {
      const { auth, client, fake, session } = yield* setup(passwordCredentials)
      const first = yield* session.token
      // Someone else spends the session's refresh token.
      yield* auth.refresh(first.refreshToken!)
      yield* TestClock.adjust("15 minutes")

      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map(describeRequest), [
        "POST /auth/access-token",
        "POST /auth/refresh-token",
        "POST /auth/refresh-token",
        "POST /auth/access-token"
      ])
      assert.deepStrictEqual(presentedRefreshTokens(requests), [
        Redacted.value(first.refreshToken!),
        Redacted.value(first.refreshToken!)
      ])
      assert.deepStrictEqual(yield* me(client), [200, { subject: username }])
    }))

  for (
    const [name, fault] of [
      ["a reset", Fault.reset({ path: "/auth/refresh-token" })],
      ["a lost response", Fault.lostResponse({ path: "/auth/refresh-token" })],
      ["a 502", Fault.status(502, { path: "/auth/refresh-token" })],
      ["a timeout", Fault.delay("1 minute", { path: "/auth/refresh-token" })]
    ] as const
  ) {
    it.scoped(`a refresh token whose answer was lost to ${name} is never presented again: it logs in`, () =>
      Effect.gen(function*() {
        const { client, fake, session } = yield* setup(passwordCredentials)
        const first = yield* session.token
        yield* fake.server.inject(fault)
        const refreshed = yield* Effect.fork(session.refresh)
        yield* TestClock.adjust("20 seconds")
        const tokens = yield* Fiber.join(refreshed)
        const requests = yield* fake.server.requests
        assert.deepStrictEqual(presentedRefreshTokens(requests), [Redacted.value(first.refreshToken!)])
        assert.deepStrictEqual(requests.map(describeRequest), [
          "POST /auth/access-token",
          "POST /auth/refresh-token",
          "POST /auth/access-token"
        ])
        assert.notStrictEqual(Redacted.value(tokens.accessToken), Redacted.value(first.accessToken))
        assert.deepStrictEqual(yield* me(client), [200, { subject: username }])
      }))
  }

  it.scoped("logs in again, without presenting it, when the refresh token is past its expiry", () =>
    Effect.gen(function*() {
      const { client, fake, session } = yield* setup(passwordCredentials, { refreshTokenLifetime: "10 minutes" })
      yield* session.token
      yield* TestClock.adjust("15 minutes")

      assert.deepStrictEqual((yield* fake.server.requests).map(describeRequest), [
        "POST /auth/access-token",
        "POST /auth/access-token"
      ])
      assert.deepStrictEqual(yield* me(client), [200, { subject: username }])
    }))

  it.scoped("a 401 Token expired on the API triggers one refresh and one retry", () =>
    Effect.gen(function*() {
      const { client, fake, session } = yield* setup(passwordCredentials)
      const first = yield* session.token
      yield* fake.expireAccessTokens
      yield* fake.server.clearRequests

      assert.deepStrictEqual(yield* me(client), [200, { subject: username }])
      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map(describeRequest), [
        "GET /me",
        "POST /auth/refresh-token",
        "GET /me"
      ])
      assert.strictEqual(requests[0].headers["authorization"], `Bearer ${Redacted.value(first.accessToken)}`)
      const second = yield* session.token
      assert.strictEqual(requests[2].headers["authorization"], `Bearer ${Redacted.value(second.accessToken)}`)
      assert.notStrictEqual(requests[2].headers["authorization"], requests[0].headers["authorization"])
    }))

  it.scoped("a wrong password fails the token with InvalidCredentials", () =>
    Effect.gen(function*() {
      const { session } = yield* setup({ username, password: Redacted.make("wrong") })
      const error = yield* Effect.flip(session.token)
      assert.strictEqual(error._tag, "InvalidCredentials")
    }))
})

describe("OccamSession with an API key", () => {
  it.scoped("two API keys sharing one store never share a token", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const other = "sk-occam-other-key"
      const fake = yield* FakeOccam.make({ apiKeys: [apiKey, other] })
      const layer = OccamAuth.layer().pipe(
        Layer.provideMerge(FakeServer.layerClient(fake.server)),
        Layer.provideMerge(TokenStore.layerMemory)
      )
      const [a, b] = yield* Effect.all([
        OccamSession.make({ credentials: { apiKey: Redacted.make(apiKey) } }),
        OccamSession.make({ credentials: { apiKey: Redacted.make(other) } })
      ]).pipe(Effect.provide(layer))
      const fromA = yield* a.session.token
      const fromB = yield* b.session.token
      assert.notStrictEqual(a.session.key, b.session.key)
      assert.notStrictEqual(Redacted.value(fromA.accessToken), Redacted.value(fromB.accessToken))
      assert.strictEqual((yield* fake.server.requests).length, 2)
    }))

  it.scoped("exchanges the key, and exchanges it again before every expiry", () =>
    Effect.gen(function*() {
      const { client, fake, session } = yield* setup({ apiKey: Redacted.make(apiKey) })
      const first = yield* session.token
      assert.match(session.key, /^occam:key:[0-9a-f]{16}$/)
      assert.notInclude(session.key, apiKey)
      assert.isUndefined(first.refreshToken)

      yield* TestClock.adjust("15 minutes")
      yield* TestClock.adjust("15 minutes")

      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map(describeRequest), [
        "GET /auth/access-token",
        "GET /auth/access-token",
        "GET /auth/access-token"
      ])
      assert.deepStrictEqual(requests.map((request) => request.query), [
        { key: apiKey },
        { key: apiKey },
        { key: apiKey }
      ])
      assert.deepStrictEqual(yield* me(client), [200, { subject: "api-key" }])
    }))

  it.scoped("a 401 on the API exchanges the key again", () =>
    Effect.gen(function*() {
      const { client, fake, session } = yield* setup({ apiKey: Redacted.make(apiKey) })
      yield* session.token
      yield* fake.expireAccessTokens
      yield* fake.server.clearRequests
      assert.deepStrictEqual(yield* me(client), [200, { subject: "api-key" }])
      assert.deepStrictEqual((yield* fake.server.requests).map(describeRequest), [
        "GET /me",
        "GET /auth/access-token",
        "GET /me"
      ])
    }))
})

describe("OccamSession.layerConfig", () => {
  const run = (entries: ReadonlyArray<readonly [string, string]>) =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const fake = yield* FakeOccam.make({ accounts: [{ username, password }], apiKeys: [apiKey] })
      const live = OccamSession.layerConfig({ jitter: 0 }).pipe(
        Layer.provideMerge(OccamAuth.layerConfig()),
        Layer.provide(FakeServer.layerClient(fake.server))
      )
      const exit = yield* Effect.exit(
        Effect.flatMap(OccamSession.OccamSession, ({ session }) =>
          Effect.map(session.token, (tokens) => ({ key: session.key, refresh: tokens.refreshToken !== undefined })))
          .pipe(
            Effect.provide(live),
            Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))
          )
      )
      return { exit, requests: (yield* fake.server.requests).map(describeRequest) }
    })

  it.scoped("reads OCCAM_USERNAME and OCCAM_PASSWORD", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* run([["OCCAM_USERNAME", username], ["OCCAM_PASSWORD", password]])
      assert.deepStrictEqual(exit, Exit.succeed({ key: "occam:ada@example.com", refresh: true }))
      assert.deepStrictEqual(requests, ["POST /auth/access-token"])
    }))

  it.scoped("prefers OCCAM_API_KEY when it is set", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* run([
        ["OCCAM_API_KEY", apiKey],
        ["OCCAM_USERNAME", username],
        ["OCCAM_PASSWORD", password]
      ])
      assert.deepStrictEqual(
        exit,
        Exit.succeed({ key: `occam:key:${TokenStore.fingerprint(apiKey)}`, refresh: false })
      )
      assert.deepStrictEqual(requests, ["GET /auth/access-token"])
    }))

  it.scoped("fails with a ConfigError that names no secret when credentials are missing", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* run([["OCCAM_USERNAME", username]])
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "OCCAM_PASSWORD")
      assert.deepStrictEqual(requests, [])
    }))
})

describe("OccamSession with a server clock off ours", () => {
  it.scoped("20 minutes behind: no refresh loop; 20 minutes ahead: no expired token served", () =>
    Effect.gen(function*() {
      for (const offset of [-20 * 60_000, 20 * 60_000]) {
        const { client, fake, session } = yield* setup(passwordCredentials)
        yield* fake.server.setClockOffset(offset)
        yield* session.token
        // Read on our clock, the 15 minute token would be already expired (server behind) or
        // look good for 35 minutes (server ahead). Measured on the server's clock it is neither.
        yield* TestClock.adjust("10 minutes")
        assert.deepStrictEqual((yield* fake.server.requests).map(describeRequest), ["POST /auth/access-token"])
        yield* TestClock.adjust("4 minutes")
        const [status] = yield* me(client)
        assert.strictEqual(status, 200)
        const paths = (yield* fake.server.requests).map(describeRequest)
        assert.deepStrictEqual(paths.slice(0, 3), ["POST /auth/access-token", "POST /auth/refresh-token", "GET /me"])
      }
    }))
})
