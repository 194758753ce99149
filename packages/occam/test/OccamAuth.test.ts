import * as AuthError from "@effect-auth/core/AuthError"
import * as Endpoint from "@effect-auth/core/Endpoint"
import type * as TokenSet from "@effect-auth/core/TokenSet"
import * as OccamAuth from "@effect-auth/occam/OccamAuth"
import * as OccamError from "@effect-auth/occam/OccamError"
import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"

/** 2025-01-01T00:00:00Z: a realistic clock, so seconds and milliseconds are told apart as in production. */
const start = 1_735_689_600_000
const username = "ada@example.com"
const password = "correct-horse-5ecret"
const apiKey = "sk-occam-5ecret-key"

const setup = (options: FakeOccam.Options = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(start)
    const fake = yield* FakeOccam.make({ accounts: [{ username, password }], apiKeys: [apiKey], ...options })
    const auth = yield* OccamAuth.make().pipe(Effect.provide(FakeServer.layerClient(fake.server)))
    return { fake, auth }
  })

const login = (auth: OccamAuth.Service, pw = password) => auth.login({ username, password: Redacted.make(pw) })

/** Runs an effect whose retries sleep, moving the test clock until it completes. */
const withRetries = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

const paths = (fake: FakeOccam.FakeOccam) =>
  Effect.map(fake.server.requests, (requests) => requests.map((request) => `${request.method} ${request.path}`))

const assertNoSecret = (value: unknown, ...secrets: ReadonlyArray<string>) => {
  const text = `${String(value)} ${JSON.stringify(value)}`
  for (const secret of secrets) assert.notInclude(text, secret)
}

describe("OccamAuth.login", () => {
  it.effect("200: a token pair, expiry read as seconds", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const tokens = yield* login(auth)
      assert.match(Redacted.value(tokens.accessToken), /^occam-at-/)
      assert.match(Redacted.value(tokens.refreshToken!), /^occam-rt-/)
      assert.strictEqual(tokens.tokenType, "bearer")
      assert.strictEqual(tokens.expiresAt, start + 15 * 60 * 1000)
      assert.strictEqual(tokens.refreshExpiresAt, start + 7 * 24 * 60 * 60 * 1000)
      assertNoSecret(tokens, Redacted.value(tokens.accessToken), Redacted.value(tokens.refreshToken!))
    }))

  it.effect("200: expiry sent in milliseconds is recognised as such", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup({ expiresAtUnit: "milliseconds", accessTokenLifetime: "10 minutes" })
      const tokens = yield* login(auth)
      assert.strictEqual(tokens.expiresAt, start + 10 * 60 * 1000)
      assert.strictEqual(tokens.refreshExpiresAt, start + 7 * 24 * 60 * 60 * 1000)
    }))

  it.effect("400: InvalidCredentials with FastAPI's detail", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const error = yield* Effect.flip(login(auth, "wrong"))
      assert.instanceOf(error, OccamError.InvalidCredentials)
      assert.deepInclude(error, { operation: "occam.login", detail: "Invalid email or password" })
      assert.strictEqual(error.message, "occam.login: Invalid email or password")

      const unknown = yield* Effect.flip(auth.login({ username: "nobody@example.com", password: Redacted.make("x") }))
      assert.strictEqual(unknown._tag, "InvalidCredentials")
    }))

  it.effect("400 whose body is not FastAPI JSON: still InvalidCredentials, without detail", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(400, { body: "<html><h1>400 Bad Request</h1></html>" }))
      const error = yield* Effect.flip(login(auth))
      assert.instanceOf(error, OccamError.InvalidCredentials)
      assert.isUndefined(error.detail)
      assert.strictEqual(error.message, "occam.login: invalid email or password")
    }))

  it.effect("400 echoing the password: the detail is scrubbed", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(400, { body: JSON.stringify({ detail: `bad password ${password}` }) }))
      const error = yield* Effect.flip(login(auth))
      assert.deepInclude(error, { _tag: "InvalidCredentials", detail: "bad password <redacted>" })
    }))

  it.effect("422: ValidationError with the decoded detail list", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      // FastAPI treats an empty form value of a required field as missing.
      const error = yield* Effect.flip(auth.login({ username: "", password: Redacted.make("") }))
      assert.instanceOf(error, OccamError.ValidationError)
      assert.deepStrictEqual(error.detail, [
        { loc: ["body", "username"], msg: "field required", type: "value_error.missing" },
        { loc: ["body", "password"], msg: "field required", type: "value_error.missing" }
      ])
      assert.strictEqual(
        error.message,
        "occam.login: validation failed: body.username: field required (value_error.missing); " +
          "body.password: field required (value_error.missing)"
      )
    }))

  it.effect("422 without FastAPI's detail list: MalformedResponse", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.malformedBody({ status: 422, body: JSON.stringify({ detail: "nope" }) }))
      const error = yield* Effect.flip(login(auth))
      assert.instanceOf(error, AuthError.MalformedResponse)
      assert.strictEqual(error.status, 422)
      assert.strictEqual(error.description, "detail has the wrong type")
    }))

  it.effect("a malformed 200: MalformedResponse naming the field, never the tokens", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.malformedBody())
      const truncated = yield* Effect.flip(login(auth))
      assert.strictEqual(truncated._tag, "MalformedResponse")
      assert.strictEqual(
        truncated._tag === "MalformedResponse" && truncated.description,
        "the body is not JSON (content-type application/json)"
      )

      const body = JSON.stringify({ access_token: "at-leaked", expires_at: 1, refresh_token: "rt-leaked" })
      yield* fake.server.inject(Fault.malformedBody({ body }))
      const missing = yield* Effect.flip(login(auth))
      assert.deepInclude(missing, {
        _tag: "MalformedResponse",
        description: "refresh_token_expires_at is missing"
      })
      assertNoSecret(missing, "at-leaked", "rt-leaked")
    }))

  it.effect("an undocumented status: UnexpectedStatus, the password scrubbed from the excerpt", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(418, { body: `teapot got password=${password}` }))
      const error = yield* Effect.flip(login(auth))
      assert.instanceOf(error, AuthError.UnexpectedStatus)
      assert.deepInclude(error, { status: 418, body: "teapot got password=<redacted>" })
    }))

  it.effect("is replayable: retried after a reset and after a 500", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.reset(), Fault.status(500))
      const tokens = yield* withRetries(login(auth))
      assert.match(Redacted.value(tokens.accessToken), /^occam-at-/)
      assert.deepStrictEqual(yield* paths(fake), [
        "POST /auth/access-token",
        "POST /auth/access-token",
        "POST /auth/access-token"
      ])
    }))
})

describe("OccamAuth.refresh", () => {
  it.effect("200: a new pair; the old refresh token is spent (400 RefreshTokenExpired)", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const first = yield* login(auth)
      yield* TestClock.adjust("5 minutes")
      const second = yield* auth.refresh(first.refreshToken!)
      assert.notStrictEqual(Redacted.value(second.refreshToken!), Redacted.value(first.refreshToken!))
      assert.notStrictEqual(Redacted.value(second.accessToken), Redacted.value(first.accessToken))
      assert.strictEqual(second.expiresAt, start + 20 * 60 * 1000)

      const reused = yield* Effect.flip(auth.refresh(first.refreshToken!))
      assert.instanceOf(reused, OccamError.RefreshTokenExpired)
      assert.deepInclude(reused, {
        operation: "occam.refresh",
        detail: "Refresh token expired or is already used"
      })
      assert.isTrue(OccamError.isRefreshRejected(reused))
    }))

  it.effect("400: an expired refresh token is RefreshTokenExpired", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup({ refreshTokenLifetime: "1 hour" })
      const tokens = yield* login(auth)
      yield* TestClock.adjust("61 minutes")
      const error = yield* Effect.flip(auth.refresh(tokens.refreshToken!))
      assert.strictEqual(error._tag, "RefreshTokenExpired")
    }))

  it.effect("404: an unknown refresh token is RefreshTokenNotFound", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const error = yield* Effect.flip(auth.refresh(Redacted.make("occam-rt-never-issued")))
      assert.instanceOf(error, OccamError.RefreshTokenNotFound)
      assert.deepInclude(error, { detail: "Refresh token does not exist" })
      assert.isTrue(OccamError.isRefreshRejected(error))
      assert.isFalse(OccamError.isRefreshRejected(new OccamError.InvalidCredentials({ operation: "x" })))
    }))

  it.effect("404 with an empty body: still RefreshTokenNotFound", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(404))
      const error = yield* Effect.flip(auth.refresh(Redacted.make("rt")))
      assert.deepInclude(error, { _tag: "RefreshTokenNotFound", detail: undefined })
    }))

  it.effect("422: ValidationError", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const body = { detail: [{ loc: ["body", "refresh_token"], msg: "field required", type: "value_error.missing" }] }
      yield* fake.server.inject(Fault.status(422, { body: JSON.stringify(body) }))
      const error = yield* Effect.flip(auth.refresh(Redacted.make("rt")))
      assert.instanceOf(error, OccamError.ValidationError)
      assert.deepStrictEqual(error.detail, body.detail)
    }))

  it.effect("a malformed 200 and an undocumented status", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const tokens = yield* login(auth)
      yield* fake.server.inject(Fault.malformedBody({ body: "{}" }))
      const malformed = yield* Effect.flip(auth.refresh(tokens.refreshToken!))
      assert.instanceOf(malformed, AuthError.MalformedResponse)
      assert.strictEqual(malformed.operation, "occam.refresh")

      const refreshToken = Redacted.value(tokens.refreshToken!)
      yield* fake.server.inject(Fault.status(401, { body: `{"detail":"bad ${refreshToken}"}` }))
      const unexpected = yield* Effect.flip(auth.refresh(tokens.refreshToken!))
      assert.deepInclude(unexpected, { _tag: "UnexpectedStatus", status: 401, body: "{\"detail\":\"bad <redacted>\"}" })
    }))

  it.effect("is single-use: never re-sent after a reset, a 500 or a lost response", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const tokens = yield* login(auth)
      yield* fake.server.clearRequests

      yield* fake.server.inject(Fault.reset({ path: "/auth/refresh-token" }))
      const reset = yield* withRetries(Effect.flip(auth.refresh(tokens.refreshToken!)))
      assert.deepInclude(reset, { _tag: "TransportError", reason: "Reset", attempts: 1 })
      assert.strictEqual((yield* fake.server.requests).length, 1)

      yield* fake.server.clearRequests
      yield* fake.server.inject(Fault.status(500, { path: "/auth/refresh-token" }))
      const serverError = yield* withRetries(Effect.flip(auth.refresh(tokens.refreshToken!)))
      assert.deepInclude(serverError, { _tag: "UnexpectedStatus", status: 500 })
      assert.strictEqual((yield* fake.server.requests).length, 1)

      // The server spent the token before the connection dropped: a replay could only be refused.
      yield* fake.server.clearRequests
      yield* fake.server.inject(Fault.lostResponse({ path: "/auth/refresh-token" }))
      const lost = yield* withRetries(Effect.flip(auth.refresh(tokens.refreshToken!)))
      assert.deepInclude(lost, { _tag: "TransportError", attempts: 1 })
      assert.strictEqual((yield* fake.server.requests).length, 1)
      const spent = yield* Effect.flip(auth.refresh(tokens.refreshToken!))
      assert.strictEqual(spent._tag, "RefreshTokenExpired")
    }))

  it.effect("a 503 (not processed) is retried, honouring Retry-After", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const tokens = yield* login(auth)
      yield* fake.server.clearRequests
      yield* fake.server.inject(Fault.status(503, { retryAfter: 2 }))
      const fiber = yield* Effect.fork(auth.refresh(tokens.refreshToken!))
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual((yield* fake.server.requests).length, 1)
      yield* TestClock.adjust("1 millis")
      const refreshed = yield* Fiber.join(fiber)
      assert.isDefined(refreshed.refreshToken)
      assert.strictEqual((yield* fake.server.requests).length, 2)
    }))
})

describe("OccamAuth.tokenFromKey", () => {
  it.effect("200: an access token without a refresh token", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const tokens = yield* auth.tokenFromKey(Redacted.make(apiKey))
      assert.match(Redacted.value(tokens.accessToken), /^occam-at-/)
      assert.isUndefined(tokens.refreshToken)
      assert.isUndefined(tokens.refreshExpiresAt)
      assert.strictEqual(tokens.expiresAt, start + 15 * 60 * 1000)
    }))

  it.effect("400: InvalidApiKey", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const error = yield* Effect.flip(auth.tokenFromKey(Redacted.make("sk-occam-unknown")))
      assert.instanceOf(error, OccamError.InvalidApiKey)
      assert.deepInclude(error, { operation: "occam.tokenFromKey", detail: "Invalid API key" })

      yield* fake.removeApiKey(apiKey)
      const revoked = yield* Effect.flip(auth.tokenFromKey(Redacted.make(apiKey)))
      assert.strictEqual(revoked._tag, "InvalidApiKey")
    }))

  it.effect("422: ValidationError", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const body = { detail: [{ loc: ["query", "key"], msg: "field required", type: "value_error.missing" }] }
      yield* fake.server.inject(Fault.status(422, { body: JSON.stringify(body) }))
      const error = yield* Effect.flip(auth.tokenFromKey(Redacted.make(apiKey)))
      assert.instanceOf(error, OccamError.ValidationError)
      assert.deepStrictEqual(error.detail, body.detail)
    }))

  it.effect("a malformed 200, and an undocumented status with the key scrubbed", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.malformedBody({ body: JSON.stringify({ access_token: "", expires_at: 1 }) }))
      const malformed = yield* Effect.flip(auth.tokenFromKey(Redacted.make(apiKey)))
      assert.deepInclude(malformed, { _tag: "MalformedResponse", description: "access_token is invalid" })

      yield* fake.server.inject(Fault.status(403, { body: `key ${apiKey} is banned` }))
      const unexpected = yield* Effect.flip(auth.tokenFromKey(Redacted.make(apiKey)))
      assert.deepInclude(unexpected, { _tag: "UnexpectedStatus", status: 403, body: "key <redacted> is banned" })
    }))

  it.effect("is replayable: retried after a reset", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.reset())
      yield* withRetries(auth.tokenFromKey(Redacted.make(apiKey)))
      assert.strictEqual((yield* fake.server.requests).length, 2)
    }))
})

describe("OccamAuth layers", () => {
  it.effect("layerConfig reads OCCAM_BASE_URL, defaulting to the production API", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOccam.make()
      const client = FakeServer.layerClient(fake.server)
      const configured = yield* OccamAuth.OccamAuth.pipe(
        Effect.provide(OccamAuth.layerConfig().pipe(Layer.provide(client))),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OCCAM_BASE_URL", "https://staging.occam.test/"]])))
      )
      assert.strictEqual(configured.baseUrl, "https://staging.occam.test")

      const defaulted = yield* OccamAuth.OccamAuth.pipe(
        Effect.provide(OccamAuth.layerConfig().pipe(Layer.provide(client))),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
      )
      assert.strictEqual(defaulted.baseUrl, "https://api.occam.ai")
    }))

  it.effect("Endpoint settings provided to the layer apply: one attempt only", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOccam.make({ accounts: [{ username, password }] })
      yield* fake.server.inject(Fault.status(500))
      const error = yield* Effect.flip(
        Effect.flatMap(OccamAuth.OccamAuth, (auth) => login(auth)).pipe(
          Effect.provide(
            OccamAuth.layer().pipe(
              Layer.provide(FakeServer.layerClient(fake.server)),
              Layer.provide(Endpoint.layerSettings({ retry: { maxAttempts: 1 } }))
            )
          )
        )
      )
      assert.deepInclude(error, { _tag: "UnexpectedStatus", status: 500 })
      assert.strictEqual((yield* fake.server.requests).length, 1)
    }))
})

describe("OccamAuth types", () => {
  it.effect("catchTags accepts exactly the tags an operation can fail with", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const handled: Effect.Effect<TokenSet.TokenSet | string, never> = login(auth, "wrong").pipe(
        Effect.catchTags({
          InvalidCredentials: (error) => Effect.succeed(`denied: ${error.detail}`),
          ValidationError: () => Effect.succeed("invalid"),
          TransportError: () => Effect.succeed("transport"),
          UnexpectedStatus: () => Effect.succeed("unexpected"),
          MalformedResponse: () => Effect.succeed("malformed")
        })
      )
      assert.strictEqual(yield* handled, "denied: Invalid email or password")

      login(auth).pipe(
        Effect.catchTags({
          InvalidCredentials: () => Effect.void,
          // @ts-expect-error login cannot fail with RefreshTokenNotFound
          RefreshTokenNotFound: () => Effect.void
        })
      )
      auth.tokenFromKey(Redacted.make(apiKey)).pipe(
        Effect.catchTags({
          // @ts-expect-error tokenFromKey cannot fail with InvalidCredentials
          InvalidCredentials: () => Effect.void
        })
      )
      auth.refresh(Redacted.make("rt")).pipe(
        Effect.catchTags({
          RefreshTokenExpired: () => Effect.void,
          RefreshTokenNotFound: () => Effect.void,
          // @ts-expect-error refresh cannot fail with InvalidApiKey
          InvalidApiKey: () => Effect.void
        })
      )
    }))
})

describe("OccamAuth secrets", () => {
  it.effect("a 400 detail echoing the form-encoded password, or a 403 page echoing it JSON-escaped, carries no spelling of it", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const awkward = `correct horse "battery" \\ staple`
      const spellings = [
        awkward,
        encodeURIComponent(awkward),
        new URLSearchParams({ p: awkward }).toString().slice(2),
        JSON.stringify(awkward).slice(1, -1)
      ]
      yield* fake.server.inject(
        Fault.status(400, {
          body: JSON.stringify({
            detail: `Invalid password ${new URLSearchParams({ p: awkward }).toString().slice(2)}`
          })
        }),
        Fault.status(403, { body: `<html><body>Forbidden: {"password": ${JSON.stringify(awkward)}}</body></html>` })
      )
      const invalid = yield* Effect.flip(login(auth, awkward))
      assert.deepInclude(invalid, { _tag: "InvalidCredentials", detail: "Invalid password <redacted>" })
      const forbidden = yield* Effect.flip(login(auth, awkward))
      assert.deepInclude(forbidden, { _tag: "UnexpectedStatus", status: 403 })
      for (const error of [invalid, forbidden]) {
        for (const text of [String(error), JSON.stringify(error), error.message]) {
          for (const spelling of spellings) assert.notInclude(text, spelling)
        }
      }
    }))
})

describe("OccamAuth clocks", () => {
  it.effect("a server clock minutes off ours: the lifetime is measured on the server's clock", () =>
    Effect.gen(function*() {
      for (const offset of [7 * 60_000, -7 * 60_000]) {
        const { auth, fake } = yield* setup()
        yield* fake.server.setClockOffset(offset)
        const tokens = yield* login(auth)
        // 15 minutes from now on our clock, at most a second short (the Date header's resolution).
        assert.isAtMost(tokens.expiresAt!, start + 15 * 60_000)
        assert.isAtLeast(tokens.expiresAt!, start + 15 * 60_000 - 1000)
        assert.isAtMost(tokens.refreshExpiresAt!, start + 7 * 24 * 3_600_000)
        assert.isAtLeast(tokens.refreshExpiresAt!, start + 7 * 24 * 3_600_000 - 1000)
      }
    }))

  it.effect("expires_at beyond what a double holds (1e400) is no expiry, not Infinity", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.malformedBody({
        body: `{"access_token":"at-1","expires_at":1e400,"refresh_token":"rt-1","refresh_token_expires_at":1e400}`
      }))
      const tokens = yield* login(auth)
      assert.isUndefined(tokens.expiresAt)
      assert.isUndefined(tokens.refreshExpiresAt)
    }))
})
