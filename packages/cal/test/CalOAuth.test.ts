import * as CalError from "@effect-auth/cal/CalError"
import * as CalOAuth from "@effect-auth/cal/CalOAuth"
import * as AuthError from "@effect-auth/core/AuthError"
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as FakeCal from "@effect-auth/testing/FakeCal"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import * as SpanRecorder from "@effect-auth/testing/SpanRecorder"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"

const redirectUri = FakeCal.defaultClient.redirectUris[0]

const setup = (options: FakeCal.Options & { readonly clientId?: string; readonly clientSecret?: string } = {}) =>
  Effect.gen(function*() {
    const fake = yield* FakeCal.make(options)
    const cal = yield* CalOAuth.make({
      clientId: options.clientId ?? fake.client.id,
      clientSecret: Redacted.make(options.clientSecret ?? fake.client.secret),
      baseUrl: "http://cal.test/"
    }).pipe(Effect.provide(FakeServer.layerClient(fake.server)))
    const cookie = Redacted.make(fake.cookie())
    return { fake, cal, cookie }
  })

/** A Cal.com over a stub transport that answers every request with `response`. */
const stubbed = (response: () => Response) =>
  CalOAuth.make({ clientId: "client", clientSecret: Redacted.make("stub-secret") }).pipe(
    Effect.provideService(
      HttpClient.HttpClient,
      HttpClient.make((request) => Effect.succeed(HttpClientResponse.fromWeb(request, response())))
    )
  )

const envelope = (status: number, message: string, details?: unknown) =>
  JSON.stringify({
    status: "error",
    timestamp: "2024-11-13T10:00:00.000Z",
    path: "/v2/oauth/x/refresh",
    error: { code: status === 401 ? "UnauthorizedException" : "BadRequestException", message, details }
  })

describe("CalOAuth.authorize", () => {
  it.effect("302: the code comes from Location; the request is a JSON POST carrying the session cookie", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      const { code } = yield* cal.authorize({ redirectUri }, cookie)
      assert.deepStrictEqual(yield* fake.codes, [Redacted.value(code)])

      const [request] = yield* fake.server.requests
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.path, `/v2/oauth/${fake.client.id}/authorize`)
      assert.strictEqual(request.headers["cookie"], fake.cookie())
      assert.strictEqual(request.headers["content-type"], "application/json")
      assert.strictEqual(request.body, JSON.stringify({ redirectUri }))
    }))

  it.effect("200 with the code in Location is accepted as well", () =>
    Effect.gen(function*() {
      const cal = yield* stubbed(() =>
        new Response(null, { status: 200, headers: { location: "https://app.test/cb?state=s&code=abc%2F1" } })
      )
      const { code } = yield* cal.authorize({ redirectUri: "https://app.test/cb" }, Redacted.make("c=1"))
      assert.strictEqual(Redacted.value(code), "abc/1")
    }))

  it.effect("a 302 without a code, or without Location, is a MalformedResponse", () =>
    Effect.gen(function*() {
      const noCode = yield* stubbed(() =>
        new Response(null, { status: 302, headers: { location: "https://app.test/" } })
      )
      const error = yield* Effect.flip(noCode.authorize({ redirectUri: "https://app.test/" }, Redacted.make("c=1")))
      assert.instanceOf(error, AuthError.MalformedResponse)
      assert.deepInclude(error, {
        operation: "cal.authorize",
        status: 302,
        description: "the Location header carries no code"
      })

      const noLocation = yield* stubbed(() => new Response(null, { status: 302 }))
      const missing = yield* Effect.flip(
        noLocation.authorize({ redirectUri: "https://app.test/" }, Redacted.make("c=1"))
      )
      assert.deepInclude(missing, { _tag: "MalformedResponse", description: "the Location header is missing" })
    }))

  it.effect("400 for an unknown client: AuthorizationRejected with the envelope decoded", () =>
    Effect.gen(function*() {
      const { cal, cookie } = yield* setup({ clientId: "no-such-client" })
      yield* TestClock.adjust("1500 millis")
      const error = yield* Effect.flip(cal.authorize({ redirectUri }, cookie))
      assert.instanceOf(error, CalError.AuthorizationRejected)
      assert.deepInclude(error, {
        status: 400,
        code: "BadRequestException",
        message: "OAuth client with ID 'no-such-client' not found",
        path: "/v2/oauth/no-such-client/authorize",
        timestamp: "1970-01-01T00:00:01.500Z"
      })
      assert.deepStrictEqual(error.details, {
        message: "OAuth client with ID 'no-such-client' not found",
        error: "Bad Request",
        statusCode: 400
      })
    }))

  it.effect("400 for a redirect URI the client does not allow", () =>
    Effect.gen(function*() {
      const { cal, cookie } = yield* setup()
      const error = yield* Effect.flip(cal.authorize({ redirectUri: "https://evil.example/cb" }, cookie))
      assert.deepInclude(error, {
        _tag: "AuthorizationRejected",
        status: 400,
        message: "Invalid 'redirect_uri' value."
      })
    }))

  it.effect("400 when the user already holds a code for this client; allowed again once it is exchanged", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      const first = yield* cal.authorize({ redirectUri }, cookie)
      const error = yield* Effect.flip(cal.authorize({ redirectUri }, cookie))
      assert.deepInclude(error, {
        _tag: "AuthorizationRejected",
        message: `User with id=${fake.user.id} has already authorized client with id=${fake.client.id}.`
      })
      yield* cal.exchange({ code: first.code })
      const second = yield* cal.authorize({ redirectUri }, cookie)
      assert.notStrictEqual(Redacted.value(second.code), Redacted.value(first.code))
    }))

  it.effect("401 without a logged-in Cal.com session", () =>
    Effect.gen(function*() {
      const { cal } = yield* setup()
      const error = yield* Effect.flip(cal.authorize({ redirectUri }, Redacted.make("next-auth.session-token=stale")))
      assert.deepInclude(error, {
        _tag: "AuthorizationRejected",
        status: 401,
        code: "UnauthorizedException",
        message: "Authentication token is missing or invalid."
      })
    }))

  it.effect("a 400 whose body is not the envelope is a MalformedResponse; an undocumented status is UnexpectedStatus", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      yield* fake.server.inject(
        Fault.malformedBody({ status: 400, body: "<html>Bad gateway</html>", contentType: "text/html" })
      )
      const malformed = yield* Effect.flip(cal.authorize({ redirectUri }, cookie))
      assert.deepInclude(malformed, {
        _tag: "MalformedResponse",
        status: 400,
        description: "the body is not JSON (content-type text/html)"
      })

      yield* fake.server.inject(Fault.status(403, { body: "{\"message\":\"Forbidden\"}" }))
      const unexpected = yield* Effect.flip(cal.authorize({ redirectUri }, cookie))
      assert.deepInclude(unexpected, { _tag: "UnexpectedStatus", status: 403, body: "{\"message\":\"Forbidden\"}" })
    }))

  it.effect("a redirect it does not document never leaks the code it carries", () =>
    Effect.gen(function*() {
      const cal = yield* stubbed(() =>
        new Response("See Other. Redirecting to https://app.test/cb?code=secret-code-1", {
          status: 303,
          headers: { location: "https://app.test/cb?code=secret-code-1" }
        })
      )
      const error = yield* Effect.flip(cal.authorize({ redirectUri: "https://app.test/cb" }, Redacted.make("c=1")))
      assert.deepInclude(error, {
        _tag: "UnexpectedStatus",
        status: 303,
        location: "https://app.test/cb?code=<redacted>"
      })
      assert.notInclude(JSON.stringify(error), "secret-code-1")
      assert.notInclude(String(error), "secret-code-1")
    }))

  it.effect("a lost response is not re-sent: the server keeps one code per user", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      yield* fake.server.inject(Fault.lostResponse())
      const error = yield* Effect.flip(cal.authorize({ redirectUri }, cookie))
      assert.deepInclude(error, { _tag: "TransportError", reason: "Reset", attempts: 1 })
      assert.strictEqual((yield* fake.server.requests).length, 1)
      assert.strictEqual((yield* fake.codes).length, 1)
    }))
})

describe("CalOAuth.exchange", () => {
  it.effect("200: tokens unwrapped from the envelope, expiry in epoch ms rounded down to the minute", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      yield* TestClock.adjust("90 seconds")
      const { code } = yield* cal.authorize({ redirectUri }, cookie)
      const tokens = yield* cal.exchange({ code })

      assert.strictEqual(tokens.tokenType, "Bearer")
      assert.strictEqual(tokens.expiresAt, 61 * 60_000)
      assert.strictEqual(tokens.refreshExpiresAt, 365 * 24 * 3_600_000)
      assert.deepStrictEqual(yield* fake.refreshTokens, [Redacted.value(tokens.refreshToken!)])
      assert.deepStrictEqual(yield* fake.codes, [])

      const [, request] = yield* fake.server.requests
      assert.strictEqual(request.path, `/v2/oauth/${fake.client.id}/exchange`)
      assert.strictEqual(request.headers["authorization"], `Bearer ${Redacted.value(code)}`)
      assert.strictEqual(request.body, JSON.stringify({ clientSecret: fake.client.secret }))
    }))

  it.effect("a server without refreshTokenExpiresAt (the 2024 API) leaves the refresh expiry unknown", () =>
    Effect.gen(function*() {
      const { cal, cookie } = yield* setup({ sendRefreshTokenExpiresAt: false })
      const { code } = yield* cal.authorize({ redirectUri }, cookie)
      const tokens = yield* cal.exchange({ code })
      assert.strictEqual(tokens.refreshExpiresAt, undefined)
      assert.strictEqual(tokens.expiresAt, 60 * 60_000)
    }))

  it.effect("400 for a spent code: ExchangeRejected \"Invalid Authorization Token.\"", () =>
    Effect.gen(function*() {
      const { cal, cookie } = yield* setup()
      const { code } = yield* cal.authorize({ redirectUri }, cookie)
      yield* cal.exchange({ code })
      const error = yield* Effect.flip(cal.exchange({ code }))
      assert.instanceOf(error, CalError.ExchangeRejected)
      assert.deepInclude(error, { status: 400, code: "BadRequestException", message: "Invalid Authorization Token." })
    }))

  it.effect("400 for a client secret that does not match: ExchangeRejected \"Invalid OAuth Client.\"", () =>
    Effect.gen(function*() {
      const { cal, cookie } = yield* setup()
      const { code } = yield* cal.authorize({ redirectUri }, cookie)
      const error = yield* Effect.flip(cal.exchange({ code, clientSecret: Redacted.make("wrong-secret") }))
      assert.deepInclude(error, { _tag: "ExchangeRejected", message: "Invalid OAuth Client." })
    }))

  it.effect("a 200 that is not the envelope is a MalformedResponse naming the field, never its value", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      const { code } = yield* cal.authorize({ redirectUri }, cookie)
      yield* fake.server.inject(Fault.malformedBody({
        body: JSON.stringify({ status: "success", data: { accessToken: "leaked-access", refreshToken: 42 } })
      }))
      const error = yield* Effect.flip(cal.exchange({ code }))
      assert.deepInclude(error, {
        _tag: "MalformedResponse",
        status: 200,
        description: "data.refreshToken has the wrong type; data.accessTokenExpiresAt is missing"
      })
      assert.notInclude(JSON.stringify(error), "leaked-access")

      yield* fake.server.inject(Fault.malformedBody({ body: JSON.stringify({ accessToken: "a" }) }))
      assert.deepInclude(yield* Effect.flip(cal.exchange({ code })), { _tag: "MalformedResponse", status: 200 })
    }))

  it.effect("a lost response is never replayed: one request, the code is spent", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      const { code } = yield* cal.authorize({ redirectUri }, cookie)
      yield* fake.server.clearRequests
      yield* fake.server.inject(Fault.lostResponse())
      const error = yield* Effect.flip(cal.exchange({ code }))
      assert.deepInclude(error, { _tag: "TransportError", operation: "cal.exchange", reason: "Reset", attempts: 1 })
      assert.strictEqual((yield* fake.server.requests).length, 1)
      assert.deepStrictEqual(yield* fake.codes, [])
    }))

  it.effect("a 500 is not retried (the code may be spent); a 503 with Retry-After is", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      const { code } = yield* cal.authorize({ redirectUri }, cookie)
      yield* fake.server.clearRequests
      yield* fake.server.inject(Fault.status(500, { body: "oops" }))
      assert.deepInclude(yield* Effect.flip(cal.exchange({ code })), { _tag: "UnexpectedStatus", status: 500 })
      assert.strictEqual((yield* fake.server.requests).length, 1)

      yield* fake.server.inject(Fault.status(503, { retryAfter: 2 }))
      const fiber = yield* Effect.fork(cal.exchange({ code }))
      yield* TestClock.adjust("2 seconds")
      const tokens = yield* Fiber.join(fiber)
      assert.isDefined(tokens.refreshToken)
      assert.strictEqual((yield* fake.server.requests).length, 3)
    }))
})

describe("CalOAuth.refresh", () => {
  it.effect("200 rotates: new pair, the presented refresh token is gone; x-cal-secret-key and a camelCase body", () =>
    Effect.gen(function*() {
      const { cal, fake } = yield* setup()
      const issued = yield* fake.issueTokens()
      yield* TestClock.adjust("30 minutes")
      const tokens = yield* cal.refresh({ refreshToken: Redacted.make(issued.refreshToken) })

      assert.notStrictEqual(Redacted.value(tokens.refreshToken!), issued.refreshToken)
      assert.deepStrictEqual(yield* fake.refreshTokens, [Redacted.value(tokens.refreshToken!)])
      assert.strictEqual(tokens.expiresAt, 90 * 60_000)

      const [request] = yield* fake.server.requests
      assert.strictEqual(request.path, `/v2/oauth/${fake.client.id}/refresh`)
      assert.strictEqual(request.headers["x-cal-secret-key"], fake.client.secret)
      assert.strictEqual(request.body, JSON.stringify({ refreshToken: issued.refreshToken }))
    }))

  it.effect("400 for a refresh token already used: InvalidRefreshToken", () =>
    Effect.gen(function*() {
      const { cal, fake } = yield* setup()
      const issued = yield* fake.issueTokens()
      yield* cal.refresh({ refreshToken: Redacted.make(issued.refreshToken) })
      const error = yield* Effect.flip(cal.refresh({ refreshToken: Redacted.make(issued.refreshToken) }))
      assert.instanceOf(error, CalError.InvalidRefreshToken)
      assert.deepInclude(error, { status: 400, code: "BadRequestException", message: "Invalid refresh token" })
      assert.deepStrictEqual(error.details, { message: "Invalid refresh token", error: "Bad Request", statusCode: 400 })
    }))

  it.effect("401 for a wrong client secret or an unknown client: InvalidClientSecret", () =>
    Effect.gen(function*() {
      const { cal, fake } = yield* setup({ clientSecret: "not-the-secret" })
      const issued = yield* fake.issueTokens()
      const error = yield* Effect.flip(cal.refresh({ refreshToken: Redacted.make(issued.refreshToken) }))
      assert.instanceOf(error, CalError.InvalidClientSecret)
      assert.deepInclude(error, { status: 401, code: "UnauthorizedException", message: "Invalid client secret" })
      // The guard refused it before the service looked at the token: it is still valid.
      assert.deepStrictEqual(yield* fake.refreshTokens, [issued.refreshToken])

      const unknown = yield* setup({ clientId: "gone" })
      const gone = yield* Effect.flip(unknown.cal.refresh({ refreshToken: Redacted.make("whatever") }))
      assert.deepInclude(gone, { _tag: "InvalidClientSecret", message: "Client with ID gone not found" })
    }))

  it.effect("a 401 that is not the envelope is a MalformedResponse; a 404 is UnexpectedStatus with secrets scrubbed", () =>
    Effect.gen(function*() {
      const { cal, fake } = yield* setup()
      yield* fake.server.inject(Fault.malformedBody({ status: 401, body: "Unauthorized", contentType: "text/plain" }))
      assert.deepInclude(yield* Effect.flip(cal.refresh({ refreshToken: Redacted.make("rt-1") })), {
        _tag: "MalformedResponse",
        status: 401
      })

      yield* fake.server.inject(Fault.status(404, { body: `no route for rt-secret-value with ${fake.client.secret}` }))
      const error = yield* Effect.flip(cal.refresh({ refreshToken: Redacted.make("rt-secret-value") }))
      assert.deepInclude(error, {
        _tag: "UnexpectedStatus",
        status: 404,
        body: "no route for <redacted> with <redacted>"
      })
    }))

  it.effect("a lost response is never replayed: one request, and the presented token is already dead", () =>
    Effect.gen(function*() {
      const { cal, fake } = yield* setup()
      const issued = yield* fake.issueTokens()
      yield* fake.server.inject(Fault.lostResponse({ path: `/v2/oauth/${fake.client.id}/refresh` }))
      const error = yield* Effect.flip(cal.refresh({ refreshToken: Redacted.make(issued.refreshToken) }))
      assert.deepInclude(error, { _tag: "TransportError", reason: "Reset", attempts: 1 })
      assert.strictEqual((yield* fake.server.requests).length, 1)
      assert.notInclude(yield* fake.refreshTokens, issued.refreshToken)
    }))
})

describe("CalOAuth secrets", () => {
  it.effect("no error carries the client secret, refresh token, code or cookie, even when the server echoes them", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      const refreshToken = "rt-echoed-by-the-server"
      const echo = { errors: [{ target: { refreshToken }, value: refreshToken, property: "refreshToken" }] }
      yield* fake.server.inject(
        Fault.status(400, { body: envelope(400, `bad ${refreshToken}`, echo) }),
        Fault.status(401, { body: envelope(401, "bad secret", { secret: fake.client.secret }) }),
        Fault.status(400, { body: envelope(400, "bad cookie", { [fake.cookie()]: Redacted.value(cookie) }) })
      )
      const invalid = yield* Effect.flip(cal.refresh({ refreshToken: Redacted.make(refreshToken) }))
      assert.deepInclude(invalid, {
        _tag: "InvalidRefreshToken",
        message: "bad <redacted>",
        details: { errors: [{ target: { refreshToken: "<redacted>" }, value: "<redacted>", property: "refreshToken" }] }
      })
      const secret = yield* Effect.flip(cal.refresh({ refreshToken: Redacted.make(refreshToken) }))
      assert.deepInclude(secret, { _tag: "InvalidClientSecret", details: { secret: "<redacted>" } })
      const rejected = yield* Effect.flip(cal.authorize({ redirectUri }, cookie))
      assert.deepInclude(rejected, { _tag: "AuthorizationRejected", details: { "<redacted>": "<redacted>" } })

      const { code } = yield* cal.authorize({ redirectUri }, cookie)
      yield* fake.server.inject(Fault.status(400, { body: envelope(400, `code ${Redacted.value(code)} unknown`) }))
      const exchange = yield* Effect.flip(cal.exchange({ code }))
      const tokens = yield* cal.exchange({ code })

      for (const error of [invalid, secret, rejected, exchange]) {
        for (const text of [String(error), JSON.stringify(error), error.message]) {
          for (const leaked of [refreshToken, fake.client.secret, Redacted.value(cookie), Redacted.value(code)]) {
            assert.notInclude(text, leaked)
          }
        }
      }
      assert.notInclude(JSON.stringify(tokens), Redacted.value(tokens.accessToken))
    }))

  it.effect("x-cal-secret-key is among the redacted header names while a request is sent", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCal.make()
      const seen: Array<ReadonlyArray<string | RegExp>> = []
      const spy = HttpClient.make((request) =>
        Effect.flatMap(FiberRef.get(Headers.currentRedactedNames), (names) => {
          seen.push(names)
          return fake.server.client.execute(request)
        })
      )
      const cal = yield* CalOAuth.make({ clientId: fake.client.id, clientSecret: Redacted.make(fake.client.secret) })
        .pipe(Effect.provideService(HttpClient.HttpClient, spy))
      const issued = yield* fake.issueTokens()
      yield* cal.refresh({ refreshToken: Redacted.make(issued.refreshToken) })
      assert.strictEqual(seen.length, 1)
      assert.include(seen[0], "x-cal-secret-key")
      assert.include(seen[0], "cookie")
      assert.include(seen[0], "authorization")
    }))
})

describe("CalOAuth configuration", () => {
  it.effect("layerConfig reads CAL_CLIENT_ID and CAL_CLIENT_SECRET; the base URL defaults to api.cal.com", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCal.make()
      const provider = ConfigProvider.fromMap(
        new Map([["CAL_CLIENT_ID", fake.client.id], ["CAL_CLIENT_SECRET", fake.client.secret]])
      )
      const layer = CalOAuth.layerConfig().pipe(
        Layer.provide(FakeServer.layerClient(fake.server)),
        Layer.provide(Layer.setConfigProvider(provider))
      )
      const cal = yield* Effect.provide(CalOAuth.CalOAuth, layer)
      assert.strictEqual(cal.baseUrl, CalOAuth.defaultBaseUrl)
      assert.strictEqual(cal.clientId, fake.client.id)
      const issued = yield* fake.issueTokens()
      yield* cal.refresh({ refreshToken: Redacted.make(issued.refreshToken) })

      const missing = yield* Effect.flip(Effect.provide(
        CalOAuth.CalOAuth,
        CalOAuth.layerConfig().pipe(
          Layer.provide(FakeServer.layerClient(fake.server)),
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["CAL_CLIENT_ID", "x"]]))))
        )
      ))
      assert.strictEqual(missing._tag, "ConfigError")
      assert.include(String(missing), "CAL_CLIENT_SECRET")
    }))

  it.effect("the pipeline settings in context apply (a single attempt: a 503 is not retried)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCal.make()
      const cal = yield* CalOAuth.make({ clientId: fake.client.id, clientSecret: Redacted.make(fake.client.secret) })
        .pipe(
          Effect.provide(FakeServer.layerClient(fake.server)),
          Effect.provide(Endpoint.layerSettings({ retry: { maxAttempts: 1 } }))
        )
      yield* fake.server.inject(Fault.status(503, { retryAfter: 1 }))
      const error = yield* Effect.flip(cal.refresh({ refreshToken: Redacted.make("rt") }))
      assert.deepInclude(error, { _tag: "UnexpectedStatus", status: 503, retryAfter: "1" })
    }))
})

describe("CalOAuth types", () => {
  it.effect("catchTags is checked against each operation's errors", () =>
    Effect.gen(function*() {
      const { cal, fake } = yield* setup()
      const issued = yield* fake.issueTokens()
      const recovered = yield* cal.refresh({ refreshToken: Redacted.make(issued.refreshToken) }).pipe(
        Effect.as("ok"),
        Effect.catchTags({
          InvalidRefreshToken: () => Effect.succeed("reauthenticate"),
          InvalidClientSecret: () => Effect.succeed("misconfigured"),
          TransportError: () => Effect.succeed("retry later"),
          UnexpectedStatus: () => Effect.succeed("retry later"),
          MalformedResponse: () => Effect.succeed("retry later")
        })
      )
      assert.strictEqual(recovered, "ok")

      const exchange = cal.exchange({ code: Redacted.make("nope") }).pipe(Effect.as("ok"))
      const handlers = {
        ExchangeRejected: () => Effect.succeed("rejected"),
        InvalidClientSecret: () => Effect.succeed("impossible")
      }
      // @ts-expect-error exchange never fails with InvalidClientSecret: the compiler rejects the handler
      const checked = Effect.catchTags(exchange, handlers)
      assert.isDefined(checked)
      const exchanged = yield* Effect.catchTags(exchange, { ExchangeRejected: () => Effect.succeed("rejected") })
      assert.strictEqual(exchanged, "rejected")
    }))
})

describe("CalOAuth secrets by construction", () => {
  it.effect("the envelope's code and timestamp are scrubbed too, as every string of the error is", () =>
    Effect.gen(function*() {
      const { cal, fake } = yield* setup()
      const refreshToken = "rt-in-every-field"
      yield* fake.server.inject(Fault.status(400, {
        body: JSON.stringify({
          status: "error",
          timestamp: `2024-11-13T10:00:00.000Z ${refreshToken}`,
          path: `/v2/oauth/x/refresh?refreshToken=${refreshToken}`,
          error: { code: `BadRequestException(${JSON.stringify(refreshToken)})`, message: "Invalid refresh token" }
        })
      }))
      const error = yield* Effect.flip(cal.refresh({ refreshToken: Redacted.make(refreshToken) }))
      assert.deepInclude(error, {
        _tag: "InvalidRefreshToken",
        code: "BadRequestException(\"<redacted>\")",
        timestamp: "2024-11-13T10:00:00.000Z <redacted>"
      })
      for (const text of [String(error), JSON.stringify(error), error.message]) assert.notInclude(text, refreshToken)
    }))

  it.effect("no span, ours or the platform's, carries the code, the cookie or the client secret", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      const { exit, spans } = yield* SpanRecorder.record(Effect.gen(function*() {
        const { code } = yield* cal.authorize({ redirectUri }, cookie)
        const tokens = yield* cal.exchange({ code })
        const refreshed = yield* cal.refresh({ refreshToken: tokens.refreshToken! })
        return [code, tokens, refreshed] as const
      }))
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      const [code, tokens, refreshed] = exit.value
      const secrets = [
        Redacted.value(code),
        Redacted.value(cookie),
        fake.client.secret,
        Redacted.value(tokens.accessToken),
        Redacted.value(tokens.refreshToken!),
        Redacted.value(refreshed.refreshToken!)
      ]
      const http = spans.filter((span) => span.name.startsWith("http.client"))
      assert.strictEqual(http.length, 3)
      assert.strictEqual(http[0].attributes.get("http.response.header.location"), "<redacted>")
      for (const span of spans) {
        for (const text of SpanRecorder.texts(span)) {
          for (const secret of secrets) assert.notInclude(text, secret)
        }
      }
    }))
})

describe("CalOAuth clocks", () => {
  it.effect("a server clock ten minutes ahead: accessTokenExpiresAt is moved onto our clock", () =>
    Effect.gen(function*() {
      const { cal, cookie, fake } = yield* setup()
      yield* fake.server.setClockOffset("10 minutes")
      const { code } = yield* cal.authorize({ redirectUri }, cookie)
      const tokens = yield* cal.exchange({ code })
      // The server wrote 70 minutes on its clock: 60 on ours, at most a second short.
      assert.isAtMost(tokens.expiresAt!, 60 * 60_000)
      assert.isAtLeast(tokens.expiresAt!, 60 * 60_000 - 1000)
    }))
})
