import * as AuthError from "@effect-auth/core/AuthError"
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as IxApiAuth from "@effect-auth/ix-api/IxApiAuth"
import * as IxApiError from "@effect-auth/ix-api/IxApiError"
import * as FakeIxApi from "@effect-auth/testing/FakeIxApi"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"

/** 2025-01-01T00:00:00Z: a realistic clock, so that JWT seconds and our milliseconds differ. */
const start = 1_735_689_600_000
const baseUrl = "https://ixp.test/api/v2"
const apiKey = "ix-key-7f3a"
const apiSecret = "ix-5ecret-c0ffee"
const credentials: IxApiAuth.Credentials = { apiKey: Redacted.make(apiKey), apiSecret: Redacted.make(apiSecret) }

const setup = (options: FakeIxApi.Options = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(start)
    const fake = yield* FakeIxApi.make({ apiKeys: [{ apiKey, apiSecret, subject: "user-42" }], ...options })
    const auth = yield* IxApiAuth.make({ baseUrl }).pipe(Effect.provide(FakeServer.layerClient(fake.server)))
    return { fake, auth }
  })

/** Runs an effect whose retries sleep, moving the test clock until it completes. */
const withRetries = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

const requestLines = (fake: FakeIxApi.FakeIxApi) =>
  Effect.map(fake.server.requests, (requests) => requests.map((request) => `${request.method} ${request.path}`))

/** An unsigned JWT with the given claims: what a server's token looks like to a client. */
const jwt = (claims: object) =>
  [
    Encoding.encodeBase64Url(JSON.stringify({ alg: "HS256", typ: "JWT" })),
    Encoding.encodeBase64Url(JSON.stringify(claims)),
    "c2lnbmF0dXJl"
  ].join(".")

const problemBody = (name: string, extra: object = {}) =>
  JSON.stringify({ type: `https://errors.ix-api.net/v2/${name}.html`, ...extra })

const assertNoSecret = (value: unknown, ...secrets: ReadonlyArray<string>) => {
  const text = `${String(value)} ${JSON.stringify(value)}`
  for (const secret of secrets) assert.notInclude(text, secret)
}

describe("IxApiAuth.createToken", () => {
  it.effect("201: both tokens, with the expiry of each read from its JWT exp claim", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const tokens = yield* auth.createToken(credentials)
      const access = Redacted.value(tokens.accessToken)
      const refresh = Redacted.value(tokens.refreshToken!)
      assert.strictEqual(tokens.tokenType, "Bearer")
      assert.strictEqual(tokens.expiresAt, start + 5 * 60 * 1000)
      assert.strictEqual(tokens.refreshExpiresAt, start + 24 * 60 * 60 * 1000)
      const claims = Option.getOrThrow(fake.verify(access))
      assert.strictEqual(claims.sub, "user-42")
      assert.strictEqual(claims.token_type, "access")
      assert.strictEqual(Option.getOrThrow(fake.verify(refresh)).token_type, "refresh")
      assertNoSecret(tokens, access, refresh, apiSecret)
      const [request] = yield* fake.server.requests
      assert.strictEqual(`${request.method} ${request.path}`, "POST /api/v2/auth/token")
      assert.deepStrictEqual(JSON.parse(request.body), { api_key: apiKey, api_secret: apiSecret })
    }))

  it.effect("200 is accepted as success too, by both operations", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const exp = start / 1000 + 600
      const body = JSON.stringify({ access_token: jwt({ exp }), refresh_token: jwt({ exp: exp + 3600 }) })
      yield* fake.server.inject(Fault.status(200, { body }), Fault.status(200, { body }))
      for (const tokens of [yield* auth.createToken(credentials), yield* auth.refreshToken(Redacted.make("rt"))]) {
        assert.strictEqual(tokens.expiresAt, exp * 1000)
        assert.strictEqual(tokens.refreshExpiresAt, (exp + 3600) * 1000)
      }
    }))

  it.effect("400: ValidationError with the problem and its properties", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const error = yield* Effect.flip(
        auth.createToken({ apiKey: Redacted.make(""), apiSecret: credentials.apiSecret })
      )
      assert.strictEqual(error._tag, "ValidationError")
      assert(error._tag === "ValidationError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.type, "https://errors.ix-api.net/v2/validation-error.html")
      assert.strictEqual(error.title, "Some fields did not validate.")
      assert.deepStrictEqual(error.properties.map((p) => [p.name, p.reason]), [
        ["api_key", "This field may not be blank."]
      ])
      assert.strictEqual(error.operation, "ix-api.createToken")
      assert.include(error.message, "api_key: This field may not be blank.")
      assertNoSecret(error, apiSecret)
    }))

  it.effect("401: AuthenticationError classified authentication-error, with no secret in it", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const wrong = "wr0ng-5ecret"
      const error = yield* Effect.flip(
        auth.createToken({ apiKey: credentials.apiKey, apiSecret: Redacted.make(wrong) })
      )
      assert(error._tag === "AuthenticationError")
      assert.strictEqual(error.reason, "authentication-error")
      assert.strictEqual(error.status, 401)
      assert.strictEqual(error.type, "https://errors.ix-api.net/v2/authentication-error.html")
      assert.strictEqual(error.title, "Authentication Credentials Invalid")
      assert.strictEqual(error.detail, "The API key or secret is not valid.")
      assertNoSecret(error, wrong, apiSecret)
    }))

  it.effect("a server error is retried (creating a token spends nothing)", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(502), Fault.lostResponse())
      const tokens = yield* withRetries(auth.createToken(credentials))
      assert.isTrue(Option.isSome(fake.verify(Redacted.value(tokens.accessToken))))
      assert.deepStrictEqual(yield* requestLines(fake), [
        "POST /api/v2/auth/token",
        "POST /api/v2/auth/token",
        "POST /api/v2/auth/token"
      ])
    }))
})

describe("IxApiAuth.refreshToken", () => {
  it.effect("201: a new pair; the request carries only the refresh token", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const first = yield* auth.createToken(credentials)
      yield* TestClock.adjust("4 minutes")
      const second = yield* auth.refreshToken(first.refreshToken!)
      assert.notStrictEqual(Redacted.value(second.accessToken), Redacted.value(first.accessToken))
      assert.notStrictEqual(Redacted.value(second.refreshToken!), Redacted.value(first.refreshToken!))
      assert.strictEqual(second.expiresAt, start + 4 * 60 * 1000 + 5 * 60 * 1000)
      const requests = yield* fake.server.requests
      assert.strictEqual(requests[1].path, "/api/v2/auth/refresh")
      assert.deepStrictEqual(JSON.parse(requests[1].body), { refresh_token: Redacted.value(first.refreshToken!) })
    }))

  it.effect("400: ValidationError naming refresh_token", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const error = yield* Effect.flip(auth.refreshToken(Redacted.make("")))
      assert(error._tag === "ValidationError")
      assert.strictEqual(error.operation, "ix-api.refreshToken")
      assert.deepStrictEqual(error.properties.map((p) => p.name), ["refresh_token"])
    }))

  it.effect("401 signature-expired once the refresh token has expired", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const tokens = yield* auth.createToken(credentials)
      yield* TestClock.adjust("24 hours")
      const error = yield* Effect.flip(auth.refreshToken(tokens.refreshToken!))
      assert(error._tag === "AuthenticationError")
      assert.strictEqual(error.reason, "signature-expired")
      assert.strictEqual(error.type, "https://errors.ix-api.net/v2/signature-expired.html")
      assertNoSecret(error, Redacted.value(tokens.refreshToken!))
    }))

  it.effect("401 authentication-error for a refresh token already used (rotation)", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const tokens = yield* auth.createToken(credentials)
      yield* auth.refreshToken(tokens.refreshToken!)
      const error = yield* Effect.flip(auth.refreshToken(tokens.refreshToken!))
      assert(error._tag === "AuthenticationError")
      assert.strictEqual(error.reason, "authentication-error")
    }))

  it.effect("401 not-authenticated is classified as such", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(
        Fault.status(401, { body: problemBody("not-authenticated", { title: "Not Authenticated" }) })
      )
      const error = yield* Effect.flip(auth.refreshToken(Redacted.make("whatever")))
      assert(error._tag === "AuthenticationError")
      assert.strictEqual(error.reason, "not-authenticated")
      assert.strictEqual(error.title, "Not Authenticated")
    }))

  it.effect("a lost response is not replayed: the rotating refresh token may already be spent", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const tokens = yield* auth.createToken(credentials)
      yield* fake.server.clearRequests
      yield* fake.server.inject(Fault.lostResponse())
      const error = yield* Effect.flip(withRetries(auth.refreshToken(tokens.refreshToken!)))
      assert.strictEqual(error._tag, "TransportError")
      assert.deepStrictEqual(yield* requestLines(fake), ["POST /api/v2/auth/refresh"])
      assert.deepStrictEqual(yield* fake.issued, { created: 1, refreshed: 1 })
    }))

  it.effect("a 500 is not replayed either", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(500))
      const error = yield* Effect.flip(withRetries(auth.refreshToken(Redacted.make("rt"))))
      assert(error._tag === "UnexpectedStatus")
      assert.strictEqual(error.status, 500)
      assert.deepStrictEqual(yield* requestLines(fake), ["POST /api/v2/auth/refresh"])
    }))
})

describe("problem bodies", () => {
  it.effect("decoded leniently: problem+json or json, loose members ignored, the HTTP status wins", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(
        Fault.malformedBody({
          status: 400,
          contentType: "application/problem+json",
          body: problemBody("validation-error", {
            title: 42,
            status: "400",
            detail: "Check the fields.",
            instance: "/api/v2/auth/token",
            extension: true,
            properties: [
              { name: "api_secret", reason: ["too short", "not random"] },
              { reason: "no name: dropped" },
              "not an object"
            ]
          })
        })
      )
      const error = yield* Effect.flip(auth.createToken(credentials))
      assert(error._tag === "ValidationError")
      assert.strictEqual(error.status, 400)
      assert.isUndefined(error.title)
      assert.strictEqual(error.detail, "Check the fields.")
      assert.strictEqual(error.instance, "/api/v2/auth/token")
      assert.deepStrictEqual(error.properties.map((p) => [p.name, p.reason]), [
        ["api_secret", "[\"too short\",\"not random\"]"]
      ])
    }))

  it.effect("a 400 without properties has an empty list", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(400, { body: problemBody("validation-error") }))
      const error = yield* Effect.flip(auth.createToken(credentials))
      assert(error._tag === "ValidationError")
      assert.deepStrictEqual(error.properties, [])
      assert.include(error.message, "the request did not validate")
    }))

  it.effect("a 401 type the spec does not list reads as authentication-error, the raw type kept", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const type = "https://ixp.test/errors/token-revoked"
      yield* fake.server.inject(Fault.status(401, { body: JSON.stringify({ type }) }))
      const error = yield* Effect.flip(auth.createToken(credentials))
      assert(error._tag === "AuthenticationError")
      assert.strictEqual(error.reason, "authentication-error")
      assert.strictEqual(error.type, type)
    }))

  it("the type is classified by its last segment, whatever the prefix", () => {
    assert.strictEqual(
      IxApiError.authenticationReason("http://errors.ix-api.net/v1/signature-expired"),
      "signature-expired"
    )
    assert.strictEqual(
      IxApiError.authenticationReason("https://errors.ix-api.net/v2/not-authenticated.html#x"),
      "not-authenticated"
    )
    assert.strictEqual(IxApiError.authenticationReason("about:blank"), "authentication-error")
  })

  it.effect("a secret the server echoes is scrubbed from the error", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(400, {
        body: problemBody("validation-error", {
          detail: `api_secret '${apiSecret}' is too weak`,
          properties: [{ name: "api_key", reason: `unknown key ${apiKey}` }]
        })
      }))
      const error = yield* Effect.flip(auth.createToken(credentials))
      assert(error._tag === "ValidationError")
      assert.strictEqual(error.detail, "api_secret '<redacted>' is too weak")
      assert.strictEqual(error.properties[0].reason, "unknown key <redacted>")
      assertNoSecret(error, apiSecret, apiKey)
    }))
})

describe("malformed responses", () => {
  const cases: ReadonlyArray<readonly [string, Fault.Fault, string]> = [
    ["201 that is not JSON", Fault.malformedBody({ status: 201 }), "not JSON"],
    [
      "201 without a refresh token",
      Fault.status(201, { body: JSON.stringify({ access_token: jwt({ exp: 1 }) }) }),
      "refresh_token is missing"
    ],
    [
      "201 with an empty access token",
      Fault.status(201, { body: JSON.stringify({ access_token: "", refresh_token: "r" }) }),
      "access_token"
    ],
    ["400 with a text body", Fault.status(400, { body: "Bad Request" }), "not JSON"],
    ["400 with a JSON array", Fault.status(400, { body: "[]" }), "has the wrong type"],
    ["401 without a problem type", Fault.status(401, { body: JSON.stringify({ title: "Nope" }) }), "type is missing"],
    ["401 with an empty body", Fault.status(401), "empty"]
  ]
  for (const [name, fault, description] of cases) {
    it.effect(`${name}: MalformedResponse`, () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup()
        yield* fake.server.inject(fault)
        const error = yield* Effect.flip(auth.createToken(credentials))
        assert(error._tag === "MalformedResponse")
        assert.include(error.description, description)
        assert.strictEqual(error.operation, "ix-api.createToken")
      }))
  }

  it.effect("a malformed refresh response is MalformedResponse too", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.malformedBody({ status: 201 }))
      const error = yield* Effect.flip(auth.refreshToken(Redacted.make("rt")))
      assert(error._tag === "MalformedResponse")
      assert.strictEqual(error.status, 201)
    }))
})

describe("undocumented statuses", () => {
  for (const status of [202, 302, 403, 404, 422]) {
    it.effect(`${status}: UnexpectedStatus for both operations`, () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup()
        const body = problemBody("permission-denied", { detail: `no access for ${apiKey}` })
        yield* fake.server.inject(Fault.status(status, { body }), Fault.status(status, { body }))
        const created = yield* Effect.flip(auth.createToken(credentials))
        const refreshed = yield* Effect.flip(auth.refreshToken(Redacted.make("rt")))
        for (const error of [created, refreshed]) {
          assert(error._tag === "UnexpectedStatus")
          assert.strictEqual(error.status, status)
        }
        // The excerpt keeps the body, minus the request's secrets.
        assert(created._tag === "UnexpectedStatus")
        assert.include(created.body, "permission-denied")
        assertNoSecret(created, apiKey, apiSecret)
        assert.strictEqual((yield* fake.server.requests).length, 2)
      }))
  }

  it.effect("a 503 outlasting the retry policy is UnexpectedStatus with its Retry-After", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(...Array.from({ length: 4 }, () => Fault.status(503, { retryAfter: 2 })))
      const error = yield* Effect.flip(withRetries(auth.refreshToken(Redacted.make("rt"))))
      assert(error._tag === "UnexpectedStatus")
      assert.strictEqual(error.status, 503)
      assert.strictEqual(error.retryAfter, "2")
      assert.strictEqual((yield* fake.server.requests).length, 4)
    }))
})

describe("tokens that are not JWTs", () => {
  for (const format of ["opaque", "jwt-without-exp"] as const) {
    it.effect(`${format}: accepted with no expiry (the session then renews on 401)`, () =>
      Effect.gen(function*() {
        const { auth } = yield* setup({ tokenFormat: format })
        const tokens = yield* auth.createToken(credentials)
        assert.isUndefined(tokens.expiresAt)
        assert.isUndefined(tokens.refreshExpiresAt)
        assert.isTrue(TokenSet.isValidAt(tokens, start + 365 * 24 * 60 * 60 * 1000))
        assert.isTrue(TokenSet.canRefreshAt(tokens, start))
        const refreshed = yield* auth.refreshToken(tokens.refreshToken!)
        assert.isUndefined(refreshed.expiresAt)
      }))
  }
})

describe("configuration", () => {
  const fromMap = (entries: ReadonlyArray<readonly [string, string]>) =>
    Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries)))

  it.effect("layerConfig reads IXAPI_BASE_URL (a trailing slash is dropped)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeIxApi.make({ apiKeys: [{ apiKey, apiSecret }] })
      const auth = yield* IxApiAuth.IxApiAuth.pipe(
        Effect.provide(
          IxApiAuth.layerConfig().pipe(
            Layer.provide([FakeServer.layerClient(fake.server), fromMap([["IXAPI_BASE_URL", `${baseUrl}/`]])])
          )
        )
      )
      assert.strictEqual(auth.baseUrl, baseUrl)
      yield* auth.createToken(credentials)
      assert.deepStrictEqual(yield* requestLines(fake), ["POST /api/v2/auth/token"])
    }))

  it.effect("a missing IXAPI_BASE_URL is a ConfigError that says there is no default, and nothing is sent", () =>
    Effect.gen(function*() {
      const fake = yield* FakeIxApi.make()
      const exit = yield* IxApiAuth.IxApiAuth.pipe(
        Effect.provide(IxApiAuth.layerConfig().pipe(Layer.provide([FakeServer.layerClient(fake.server), fromMap([])]))),
        Effect.exit
      )
      assert(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(String(error), "IXAPI_BASE_URL is required")
      assert.include(String(error), "no default")
      assert.strictEqual((yield* fake.server.requests).length, 0)
    }))

  it.effect("an IXAPI_BASE_URL that is not an absolute http(s) URL is a ConfigError", () =>
    Effect.gen(function*() {
      const fake = yield* FakeIxApi.make()
      const error = yield* IxApiAuth.IxApiAuth.pipe(
        Effect.provide(
          IxApiAuth.layerConfig().pipe(
            Layer.provide([FakeServer.layerClient(fake.server), fromMap([["IXAPI_BASE_URL", "ixp.test/api/v2"]])])
          )
        ),
        Effect.flip
      )
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(String(error), "absolute http(s) URL")
    }))

  it.effect("Endpoint.layerSettings configures the client (one attempt: the 503 is final)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const fake = yield* FakeIxApi.make({ apiKeys: [{ apiKey, apiSecret }] })
      const auth = yield* IxApiAuth.IxApiAuth.pipe(
        Effect.provide(
          IxApiAuth.layer({ baseUrl }).pipe(
            Layer.provide([FakeServer.layerClient(fake.server), Endpoint.layerSettings({ retry: { maxAttempts: 1 } })])
          )
        )
      )
      yield* fake.server.inject(Fault.status(503))
      const error = yield* Effect.flip(auth.createToken(credentials))
      assert.instanceOf(error, AuthError.UnexpectedStatus)
      assert.strictEqual((yield* fake.server.requests).length, 1)
    }))
})

describe("types", () => {
  it.effect("catchTags is checked against the documented errors", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const wrong = { apiKey: credentials.apiKey, apiSecret: Redacted.make("wrong") }
      // Handling both documented errors leaves exactly the shared ones.
      const handled: Effect.Effect<
        string,
        AuthError.TransportError | AuthError.UnexpectedStatus | AuthError.MalformedResponse
      > = auth.createToken(wrong).pipe(
        Effect.map(() => "ok"),
        Effect.catchTags({
          AuthenticationError: (error) => Effect.succeed(`401 ${error.reason}`),
          ValidationError: () => Effect.succeed("400")
        })
      )
      assert.strictEqual(yield* handled, "401 authentication-error")
      // A handler for a tag the operation cannot fail with does not compile.
      const rejected = () =>
        auth.createToken(wrong).pipe(
          Effect.catchTags({
            // @ts-expect-error: createToken cannot fail with another provider's tag
            InvalidCredentials: () => Effect.succeed("never")
          })
        )
      assert.isFunction(rejected)
    }))
})

describe("secrets in problem bodies", () => {
  it.effect("a non-string reason and the problem type URI echoing a secret with a quote carry no spelling of it", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const secret = `ix-5ecret-"quoted"\\slash/`
      const spellings = [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)]
      yield* fake.server.inject(Fault.status(400, {
        body: JSON.stringify({
          type: `https://errors.ix-api.net/v2/validation-error.html?input=${encodeURIComponent(secret)}`,
          title: "Some fields did not validate.",
          properties: [{ name: "api_secret", reason: { messages: [`"${secret}" is not valid`], input: secret } }]
        })
      }))
      const error = yield* Effect.flip(
        auth.createToken({ apiKey: Redacted.make(apiKey), apiSecret: Redacted.make(secret) })
      )
      assert.strictEqual(error._tag, "ValidationError")
      if (error._tag !== "ValidationError") return
      assert.instanceOf(error.properties[0], IxApiError.InvalidProperty)
      assert.include(error.properties[0].reason, "<redacted>")
      assert.include(error.type, "<redacted>")
      for (
        const text of [String(error), JSON.stringify(error), error.message, error.type, error.properties[0].reason]
      ) {
        for (const spelling of spellings) assert.notInclude(text, spelling)
      }
    }))
})

describe("clocks", () => {
  it.effect("a server clock minutes off ours: the JWT exp is moved onto our clock by the Date header's offset", () =>
    Effect.gen(function*() {
      for (const offset of [9 * 60_000, -9 * 60_000]) {
        const { auth, fake } = yield* setup()
        yield* fake.server.setClockOffset(offset)
        const tokens = yield* auth.createToken(credentials)
        assert.isAtMost(tokens.expiresAt!, start + 5 * 60_000)
        assert.isAtLeast(tokens.expiresAt!, start + 5 * 60_000 - 1000)
      }
    }))

  it("without a Date header the lifetime exp - iat counts from receipt; a huge exp is no expiry", () => {
    const skewed = jwt({ iat: 1_000_000, exp: 1_000_300 })
    const tokens = TokenSet.fromJwt({ accessToken: Redacted.make(skewed) }, { receivedAt: start })
    assert.strictEqual(tokens.expiresAt, start + 300_000)
    const huge = TokenSet.fromJwt({ accessToken: Redacted.make(jwt({ exp: 1e308 })) })
    assert.isUndefined(huge.expiresAt)
  })
})
