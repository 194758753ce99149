import * as EnduroSatAuth from "@effect-auth/endurosat/EnduroSatAuth"
import * as EnduroSatSession from "@effect-auth/endurosat/EnduroSatSession"
import * as FakeEnduroSat from "@effect-auth/testing/FakeEnduroSat"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"

const user = FakeEnduroSat.defaultUser
const password = Redacted.make(user.password)

const setup = (
  fakeOptions: FakeEnduroSat.Options = {},
  sessionOptions: Partial<EnduroSatSession.Options> = {}
) =>
  Effect.gen(function*() {
    const fake = yield* FakeEnduroSat.make(fakeOptions)
    const layer = EnduroSatSession.layer({ username: user.username, password, jitter: 0, ...sessionOptions }).pipe(
      Layer.provide(EnduroSatAuth.layer({ clientId: fake.clientId })),
      Layer.provide(FakeServer.layerClient(fake.server))
    )
    const scope = yield* Scope.make()
    const service = Context.get(yield* Layer.buildWithScope(layer, scope), EnduroSatSession.EnduroSatSession)
    return { fake, scope, ...service }
  })

/** What the fake received on `/oauth2/token` and `/oauth2/revoke`, oldest first. */
const authRequests = (fake: FakeEnduroSat.FakeEnduroSat) =>
  Effect.map(fake.server.requests, (requests) =>
    requests
      .filter((request) => request.path.startsWith("/oauth2/"))
      .map((request) => new URLSearchParams(request.body))
      .map((form) => ({
        grantType: form.get("grant_type") ?? "revoke",
        refreshToken: form.get("refresh_token") ?? form.get("token") ?? undefined
      })))

const tick = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))

/**
 * Waits, in real time, until `check` holds. The in-memory transport resolves a few promises per
 * request, so work the TestClock set off needs real ticks (never clock time) to land.
 */
const eventually = (label: string, check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 3000; attempt++) {
      if (yield* check) return
      yield* tick
    }
    assert.fail(`timed out waiting until ${label}`)
  })

/**
 * Moves the clock to `at` (ms since the start) once the session has scheduled a refresh for then
 * or earlier, and waits until the fake has received `count` requests and the session holds the
 * token they brought.
 */
const advanceTo = (
  { fake, session }: {
    readonly fake: FakeEnduroSat.FakeEnduroSat
    readonly session: EnduroSatSession.Service["session"]
  },
  at: number,
  count: number
) =>
  Effect.gen(function*() {
    yield* eventually(
      "a refresh is scheduled",
      Effect.map(TestClock.sleeps(), (wakeTimes) => Chunk.some(wakeTimes, (wakeTime) => wakeTime <= at))
    )
    const before = yield* session.state
    yield* TestClock.setTime(at)
    yield* eventually(
      `the fake received ${count} requests and the session holds a new token`,
      Effect.gen(function*() {
        const received = (yield* fake.server.requests).length
        const state = yield* session.state
        return received >= count && state._tag === "Valid" &&
          !(before._tag === "Valid" && before.expiresAt === state.expiresAt)
      })
    )
  })

const minutes = (n: number) => n * 60_000

describe("EnduroSatSession", () => {
  it.scoped("a refresh keeps the original refresh token, and its expiry counted from the login", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup({ accessTokenLifetime: "10 minutes" })
      const first = yield* session.token
      assert.strictEqual(first.refreshExpiresAt, minutes(60 * 24 * 30))

      const forced = yield* session.refresh
      assert.notStrictEqual(Redacted.value(forced.accessToken), Redacted.value(first.accessToken))
      assert.strictEqual(Redacted.value(forced.refreshToken!), Redacted.value(first.refreshToken!))
      assert.strictEqual(forced.refreshExpiresAt, first.refreshExpiresAt)

      // The proactive refresh 60 seconds (the skew) before expiry presents the same token again.
      yield* advanceTo({ fake, session }, minutes(9), 3)
      const scheduled = yield* session.token
      assert.strictEqual(scheduled.expiresAt, minutes(19))
      assert.strictEqual(Redacted.value(scheduled.refreshToken!), Redacted.value(first.refreshToken!))

      const original = Redacted.value(first.refreshToken!)
      assert.deepStrictEqual(yield* authRequests(fake), [
        { grantType: "password", refreshToken: undefined },
        { grantType: "refresh_token", refreshToken: original },
        { grantType: "refresh_token", refreshToken: original }
      ])
    }))

  it.scoped("once the refresh token's lifetime is over, the session logs in again instead of refreshing", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup(
        { accessTokenLifetime: "50 minutes", refreshTokenLifetime: "1 hour" },
        { refreshTokenLifetime: "1 hour" }
      )
      const first = yield* session.token
      yield* advanceTo({ fake, session }, minutes(49), 2) // refresh 1: the refresh token is 49 minutes old
      yield* advanceTo({ fake, session }, minutes(98), 3) // past the hour: a login, no doomed refresh

      const current = yield* session.token
      assert.notStrictEqual(Redacted.value(current.refreshToken!), Redacted.value(first.refreshToken!))
      assert.strictEqual(current.refreshExpiresAt, minutes(98 + 60))
      assert.deepStrictEqual((yield* authRequests(fake)).map((request) => request.grantType), [
        "password",
        "refresh_token",
        "password"
      ])
    }))

  it.scoped("a refresh token the server refuses (expired early, signed out) leads to a new login", () =>
    Effect.gen(function*() {
      // The session believes Cognito's default of 30 days; this app client says 1 hour.
      const { client, fake, session } = yield* setup({
        accessTokenLifetime: "50 minutes",
        refreshTokenLifetime: "1 hour"
      })
      yield* session.token
      yield* advanceTo({ fake, session }, minutes(49), 2)
      yield* advanceTo({ fake, session }, minutes(98), 4) // refresh refused with 401, then a login

      yield* fake.signOut(user.username)
      yield* advanceTo({ fake, session }, minutes(147), 6) // refresh refused again (revoked), then a login

      assert.deepStrictEqual((yield* authRequests(fake)).map((request) => request.grantType), [
        "password",
        "refresh_token",
        "refresh_token",
        "password",
        "refresh_token",
        "password"
      ])
      assert.strictEqual((yield* client.get(FakeEnduroSat.protectedPath)).status, 200)
    }))

  it.scoped("closing the scope sends exactly one revoke, and the revoked token no longer opens the protected route", () =>
    Effect.gen(function*() {
      const { client, fake, scope, session } = yield* setup({}, { revokeOnClose: true })
      const passes = yield* client.get(FakeEnduroSat.protectedPath)
      assert.strictEqual(passes.status, 200)
      const tokens = yield* session.token

      yield* Scope.close(scope, Exit.void)
      const revokes = (yield* authRequests(fake)).filter((request) => request.grantType === "revoke")
      assert.deepStrictEqual(revokes, [{ grantType: "revoke", refreshToken: Redacted.value(tokens.refreshToken!) }])

      const after = yield* fake.server.client.get(`https://gs.test${FakeEnduroSat.protectedPath}`, {
        headers: { authorization: `Bearer ${Redacted.value(tokens.accessToken)}` }
      })
      assert.strictEqual(after.status, 401)
      assert.deepStrictEqual(yield* after.json, { error: "Access token has been revoked" })
    }))

  it.scoped("without revokeOnClose, closing the scope revokes nothing", () =>
    Effect.gen(function*() {
      const { fake, scope, session } = yield* setup()
      yield* session.token
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual((yield* authRequests(fake)).map((request) => request.grantType), ["password"])
    }))

  it.scoped("a 401 on the protected route triggers one refresh and one retry with the new token", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup()
      yield* client.get(FakeEnduroSat.protectedPath)
      yield* fake.server.inject(Fault.status(401, { path: FakeEnduroSat.protectedPath }))
      const response = yield* client.get(FakeEnduroSat.protectedPath)
      assert.strictEqual(response.status, 200)

      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map((request) => [request.path, request.fault]), [
        ["/oauth2/token", undefined],
        [FakeEnduroSat.protectedPath, undefined],
        [FakeEnduroSat.protectedPath, "Status"],
        ["/oauth2/token", undefined],
        [FakeEnduroSat.protectedPath, undefined]
      ])
      assert.include(requests[3].body, "grant_type=refresh_token")
      assert.strictEqual(requests[1].headers["authorization"], requests[2].headers["authorization"])
      assert.notStrictEqual(requests[2].headers["authorization"], requests[4].headers["authorization"])

      // A second rejection reaches the caller as it came, after exactly one more refresh.
      yield* fake.server.inject(
        Fault.status(401, { path: FakeEnduroSat.protectedPath }),
        Fault.status(401, { path: FakeEnduroSat.protectedPath })
      )
      const rejected = yield* client.get(FakeEnduroSat.protectedPath)
      assert.strictEqual(rejected.status, 401)
      assert.strictEqual((yield* fake.server.requests).length, 8)
    }))

  it.scoped("an access token the server expired early is replaced on the 401, without a scheduled refresh", () =>
    Effect.gen(function*() {
      const { client, fake, session } = yield* setup()
      const first = yield* session.token
      // A global sign-out revokes the access token the session still holds as valid.
      yield* fake.signOut(user.username)
      const response = yield* client.get(FakeEnduroSat.protectedPath)
      assert.strictEqual(response.status, 200)
      const current = yield* session.token
      assert.notStrictEqual(Redacted.value(current.refreshToken!), Redacted.value(first.refreshToken!))
      assert.deepStrictEqual((yield* authRequests(fake)).map((request) => request.grantType), [
        "password",
        "refresh_token",
        "password"
      ])
    }))

  it.scoped("a wrong password fails with InvalidCredentials; no secret in the error or the state", () =>
    Effect.gen(function*() {
      const wrong = "wrong-password-7c1d"
      const { client, session } = yield* setup({}, { password: Redacted.make(wrong) })
      const error = yield* Effect.flip(client.get(FakeEnduroSat.protectedPath))
      assert.deepInclude(error, { _tag: "InvalidCredentials", grantType: "password" })
      const state = yield* session.state
      assert.strictEqual(state._tag, "Failed")
      for (const text of [String(error), JSON.stringify(error), JSON.stringify(state)]) {
        assert.notInclude(text, wrong)
      }
    }))

  it.scoped("layerConfig reads ENDUROSAT_USERNAME and ENDUROSAT_PASSWORD", () =>
    Effect.gen(function*() {
      const fake = yield* FakeEnduroSat.make()
      const config = ConfigProvider.fromMap(
        new Map([
          ["ENDUROSAT_CLIENT_ID", fake.clientId],
          ["ENDUROSAT_USERNAME", user.username],
          ["ENDUROSAT_PASSWORD", user.password]
        ])
      )
      const layer = EnduroSatSession.layerConfig().pipe(
        Layer.provide(EnduroSatAuth.layerConfig()),
        Layer.provide(FakeServer.layerClient(fake.server)),
        Layer.provide(Layer.setConfigProvider(config))
      )
      const response = yield* EnduroSatSession.EnduroSatSession.pipe(
        Effect.flatMap(({ client }) => client.get(FakeEnduroSat.protectedPath)),
        Effect.provide(layer)
      )
      assert.strictEqual(response.status, 200)

      const missing = yield* Effect.flip(
        Effect.provide(
          EnduroSatSession.EnduroSatSession,
          EnduroSatSession.layerConfig().pipe(
            Layer.provide(EnduroSatAuth.layer({ clientId: fake.clientId })),
            Layer.provide(FakeServer.layerClient(fake.server)),
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["ENDUROSAT_USERNAME", "u"]]))))
          )
        )
      )
      assert.include(String(missing), "ENDUROSAT_PASSWORD")
    }))
})

describe("EnduroSatSession behind an RFC 6749 server", () => {
  it.scoped("a refresh answered 400 invalid_grant logs in again with the password instead of keeping the dead token", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup()
      const first = yield* session.token
      // An OAuth server (or a proxy in front of Cognito) answers a dead refresh token this way.
      yield* fake.server.inject(
        Fault.status(400, {
          path: "/oauth2/token",
          body: JSON.stringify({ error: "invalid_grant", error_description: "Refresh token has been revoked" })
        })
      )
      const renewed = yield* session.refresh
      assert.notStrictEqual(Redacted.value(renewed.refreshToken!), Redacted.value(first.refreshToken!))
      assert.deepStrictEqual(yield* authRequests(fake), [
        { grantType: "password", refreshToken: undefined },
        { grantType: "refresh_token", refreshToken: Redacted.value(first.refreshToken!) },
        { grantType: "password", refreshToken: undefined }
      ])
    }))
})
