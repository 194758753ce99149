import * as AuthError from "@effect-auth/core/AuthError"
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as EnduroSatAuth from "@effect-auth/endurosat/EnduroSatAuth"
import * as EnduroSatError from "@effect-auth/endurosat/EnduroSatError"
import * as FakeEnduroSat from "@effect-auth/testing/FakeEnduroSat"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"

const user = FakeEnduroSat.defaultUser
const password = Redacted.make(user.password)

const setup = (options: FakeEnduroSat.Options = {}) =>
  Effect.gen(function*() {
    const fake = yield* FakeEnduroSat.make(options)
    const auth = yield* EnduroSatAuth.make({ clientId: fake.clientId }).pipe(
      Effect.provide(FakeServer.layerClient(fake.server))
    )
    return { fake, auth }
  })

/** The form fields of every request the fake received, with their path. */
const received = (fake: FakeEnduroSat.FakeEnduroSat) =>
  Effect.map(
    fake.server.requests,
    (requests) =>
      requests.map((request): Record<string, string> => ({
        path: request.path,
        ...Object.fromEntries(new URLSearchParams(request.body))
      }))
  )

/** Runs `effect` on a fork and moves the TestClock until it is done (retries sleep). */
const withTime = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

/** Asserts no secret appears in what an error prints or serialises to. */
const assertNoSecret = (error: unknown, secrets: ReadonlyArray<string>) => {
  const texts = [String(error), JSON.stringify(error)]
  if (error instanceof Error) texts.push(error.message)
  for (const text of texts) {
    for (const secret of secrets) assert.notInclude(text, secret)
  }
}

describe("EnduroSatAuth.authenticate", () => {
  it.effect("200 on a password grant: access, id and refresh tokens, expiry from expires_in", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      yield* TestClock.adjust("1000 seconds")
      const tokens = yield* auth.authenticate({ grantType: "password", username: user.username, password })

      assert.strictEqual(tokens.tokenType, "Bearer")
      assert.strictEqual(tokens.expiresAt, 1_000_000 + 3_600_000)
      assert.isTrue(Redacted.value(tokens.accessToken).length > 0)
      assert.isDefined(tokens.refreshToken)
      assert.isDefined(tokens.idToken)
      // The refresh token's lifetime is not in the response.
      assert.isUndefined(tokens.refreshExpiresAt)
    }))

  it.effect("200 on a refresh grant: a new access token and no refresh token (Cognito does not rotate)", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup({ accessTokenLifetime: "5 minutes" })
      const first = yield* auth.login({ username: user.username, password })
      yield* TestClock.adjust("4 minutes")
      const refreshed = yield* auth.authenticate({ grantType: "refresh_token", refreshToken: first.refreshToken! })

      assert.notStrictEqual(Redacted.value(refreshed.accessToken), Redacted.value(first.accessToken))
      assert.isUndefined(refreshed.refreshToken)
      assert.isDefined(refreshed.idToken)
      assert.strictEqual(refreshed.expiresAt, 4 * 60_000 + 5 * 60_000)

      // The same refresh token keeps working: it was not spent.
      yield* auth.refresh(first.refreshToken!)
      const requests = yield* received(fake)
      assert.deepStrictEqual(requests.map((request) => request.grant_type), [
        "password",
        "refresh_token",
        "refresh_token"
      ])
    }))

  it.effect("401 on a wrong password: InvalidCredentials with Cognito's error text", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const wrong = "not-the-password-9f8e"
      const error = yield* Effect.flip(auth.login({ username: user.username, password: Redacted.make(wrong) }))

      assert.instanceOf(error, EnduroSatError.InvalidCredentials)
      assert.deepInclude(error, {
        _tag: "InvalidCredentials",
        operation: "endurosat.authenticate",
        grantType: "password",
        error: "Incorrect username or password."
      })
      assert.include(error.message, "Incorrect username or password.")
      assertNoSecret(error, [wrong])
    }))

  it.effect("401 for an unknown user is the same answer as for a wrong password", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const error = yield* Effect.flip(auth.login({ username: "nobody@example.com", password }))
      assert.deepInclude(error, { _tag: "InvalidCredentials", error: "Incorrect username or password." })
    }))

  it.effect("401 on an expired, revoked or unknown refresh token", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup({ refreshTokenLifetime: "1 hour" })
      const tokens = yield* auth.login({ username: user.username, password })
      const refreshToken = tokens.refreshToken!

      const unknown = yield* Effect.flip(auth.refresh(Redacted.make("not-a-refresh-token")))
      assert.deepInclude(unknown, {
        _tag: "InvalidCredentials",
        grantType: "refresh_token",
        error: "Invalid Refresh Token"
      })

      yield* TestClock.adjust("1 hour")
      const expired = yield* Effect.flip(auth.refresh(refreshToken))
      assert.deepInclude(expired, { _tag: "InvalidCredentials", error: "Refresh Token has expired" })
      assert.include(expired.message, "refresh token was refused")
      assertNoSecret(expired, [Redacted.value(refreshToken)])

      const second = yield* auth.login({ username: user.username, password })
      yield* fake.signOut(user.username)
      const revoked = yield* Effect.flip(auth.refresh(second.refreshToken!))
      assert.deepInclude(revoked, { _tag: "InvalidCredentials", error: "Refresh Token has been revoked" })
    }))

  it.effect("400 for an unknown app client id: BadRequest with the untyped body decoded", () =>
    Effect.gen(function*() {
      const { fake } = yield* setup()
      const auth = yield* EnduroSatAuth.make({ clientId: "some-other-app" }).pipe(
        Effect.provide(FakeServer.layerClient(fake.server))
      )
      const error = yield* Effect.flip(auth.login({ username: user.username, password }))

      assert.instanceOf(error, EnduroSatError.BadRequest)
      assert.strictEqual(error.operation, "endurosat.authenticate")
      assert.deepInclude(error.body, {
        status: 400,
        error: "Bad Request",
        message: "User pool client some-other-app does not exist.",
        path: "/oauth2/token"
      })
      assert.include(error.message, "User pool client some-other-app does not exist.")
      assertNoSecret(error, [user.password])
    }))

  it.effect("400 for an empty username (a required field missing)", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const error = yield* Effect.flip(auth.login({ username: "", password }))
      assert.instanceOf(error, EnduroSatError.BadRequest)
      assert.deepInclude(error.body, {
        message: "Parameters 'username' and 'password' are required for grant_type=password."
      })
    }))

  it.effect("400 whose body echoes the password or refresh token: the echo is redacted", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(400, {
        body: JSON.stringify({ message: `bad password ${user.password}`, [user.password]: [user.password] })
      }))
      const error = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.deepStrictEqual(error._tag === "BadRequest" ? error.body : undefined, {
        message: "bad password <redacted>",
        "<redacted>": ["<redacted>"]
      })
      assertNoSecret(error, [user.password])

      const tokens = yield* auth.login({ username: user.username, password })
      const refreshToken = Redacted.value(tokens.refreshToken!)
      yield* fake.server.inject(Fault.status(400, { body: JSON.stringify({ error: refreshToken }) }))
      const echoed = yield* Effect.flip(auth.refresh(tokens.refreshToken!))
      assertNoSecret(echoed, [refreshToken])
    }))

  it.effect("400 with a body that is not JSON is still BadRequest, without a body", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(
        Fault.malformedBody({ status: 400, body: "<html><h1>400 Bad Request</h1></html>", contentType: "text/html" }),
        Fault.status(400)
      )
      const html = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.deepInclude(html, { _tag: "BadRequest", body: undefined })
      assert.strictEqual(html.message, "endurosat.authenticate: bad request")
      const empty = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.deepInclude(empty, { _tag: "BadRequest", body: undefined })
    }))
})

describe("EnduroSatAuth.authenticate with a malformed or unexpected answer", () => {
  it.effect("200 without access_token is MalformedResponse (every field is optional in the document)", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(
        Fault.malformedBody({ body: JSON.stringify({ token_type: "Bearer", expires_in: 3600 }) })
      )
      const error = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.instanceOf(error, AuthError.MalformedResponse)
      assert.deepInclude(error, { operation: "endurosat.authenticate", status: 200 })
      assert.include(error.description, "access_token is missing")
    }))

  it.effect("200 with an HTML page or invalid JSON is MalformedResponse", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(
        Fault.malformedBody({ body: "<html>maintenance</html>", contentType: "text/html" }),
        Fault.malformedBody()
      )
      const html = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.deepInclude(html, { _tag: "MalformedResponse", status: 200 })
      assert.include(html._tag === "MalformedResponse" ? html.description : "", "not JSON (content-type text/html)")
      const truncated = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.deepInclude(truncated, { _tag: "MalformedResponse", status: 200 })
    }))

  it.effect("200 with a negative expires_in is MalformedResponse; null fields and a string expires_in are read", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(
        Fault.malformedBody({ body: JSON.stringify({ access_token: "at", expires_in: -5 }) }),
        Fault.malformedBody({
          body: JSON.stringify({
            access_token: "at",
            expires_in: "120",
            token_type: null,
            refresh_token: null,
            id_token: null,
            new_device_metadata: { device_key: "k", device_group_key: "g" }
          })
        })
      )
      const negative = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.deepInclude(negative, { _tag: "MalformedResponse" })
      const tokens = yield* auth.login({ username: user.username, password })
      assert.strictEqual(tokens.expiresAt, 120_000)
      assert.strictEqual(tokens.tokenType, "Bearer")
      assert.isUndefined(tokens.refreshToken)
      assert.isUndefined(tokens.idToken)
    }))

  it.effect("401 whose body is not JSON is MalformedResponse", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.malformedBody({ status: 401, body: "Unauthorized", contentType: "text/plain" }))
      const error = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.deepInclude(error, { _tag: "MalformedResponse", status: 401 })
    }))

  it.effect("an undocumented status is UnexpectedStatus with a scrubbed excerpt", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(403, { body: `forbidden for password ${user.password}` }))
      const error = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.instanceOf(error, AuthError.UnexpectedStatus)
      assert.deepInclude(error, { status: 403, body: "forbidden for password <redacted>" })
      assertNoSecret(error, [user.password])
    }))

  it.effect("a body sent as JSON instead of a form gets the fake's 415: UnexpectedStatus", () =>
    Effect.gen(function*() {
      // The client always sends a form; the 415 only proves the fake checks the encoding, and that
      // the client reports a status it does not document as such.
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(415))
      const error = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.deepInclude(error, { _tag: "UnexpectedStatus", status: 415 })
    }))

  it.effect("both grants are replayable: a 500 or a lost response is retried, and the refresh token survives", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(500), Fault.reset())
      const tokens = yield* withTime(auth.login({ username: user.username, password }))

      // The server processed the refresh, then the answer was lost: the grant is sent again and
      // succeeds, because Cognito did not spend the refresh token.
      yield* fake.server.inject(Fault.lostResponse({ path: "/oauth2/token" }))
      const refreshed = yield* withTime(auth.refresh(tokens.refreshToken!))
      assert.isDefined(refreshed.accessToken)

      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map((request) => request.fault), [
        "Status",
        "Reset",
        undefined,
        "LostResponse",
        undefined
      ])
    }))

  it.effect("a 503 with Retry-After is waited out", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(503, { retryAfter: 7 }))
      const fiber = yield* Effect.fork(auth.login({ username: user.username, password }))
      yield* TestClock.adjust("6 seconds")
      assert.strictEqual((yield* fake.server.requests).length, 1)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.strictEqual((yield* fake.server.requests).length, 2)
    }))
})

describe("EnduroSatAuth.revoke", () => {
  it.effect("204: the refresh token and the access tokens issued from it stop working", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const tokens = yield* auth.login({ username: user.username, password })
      const refreshed = yield* auth.refresh(tokens.refreshToken!)
      yield* auth.revoke(tokens.refreshToken!)

      const error = yield* Effect.flip(auth.refresh(tokens.refreshToken!))
      assert.deepInclude(error, { _tag: "InvalidCredentials", error: "Refresh Token has been revoked" })
      for (const accessToken of [tokens.accessToken, refreshed.accessToken]) {
        const response = yield* fake.server.client.get(`https://api.test${FakeEnduroSat.protectedPath}`, {
          headers: { authorization: `Bearer ${Redacted.value(accessToken)}` }
        })
        assert.strictEqual(response.status, 401)
      }
    }))

  it.effect("204 for an unknown or already revoked token (idempotent)", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const tokens = yield* auth.login({ username: user.username, password })
      yield* auth.revoke(tokens.refreshToken!)
      yield* auth.revoke(tokens.refreshToken!)
      yield* auth.revoke(Redacted.make("never-issued"))
    }))

  it.effect("400: BadRequest for an unknown app client id or an access token", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const tokens = yield* auth.login({ username: user.username, password })
      const other = yield* EnduroSatAuth.make({ clientId: "some-other-app" }).pipe(
        Effect.provide(FakeServer.layerClient(fake.server))
      )
      const unknownClient = yield* Effect.flip(other.revoke(tokens.refreshToken!))
      assert.deepInclude(unknownClient, { _tag: "BadRequest", operation: "endurosat.revoke" })
      assertNoSecret(unknownClient, [Redacted.value(tokens.refreshToken!)])

      const accessToken = yield* Effect.flip(auth.revoke(tokens.accessToken))
      assert.strictEqual(accessToken._tag, "BadRequest")
      assert.include(accessToken.message, "Only refresh tokens can be revoked.")

      // Neither failed request revoked anything.
      yield* auth.refresh(tokens.refreshToken!)
    }))

  it.effect("an undocumented status is UnexpectedStatus; a reset is retried (replayable)", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      yield* fake.server.inject(Fault.status(401, { body: "{\"error\":\"nope\"}" }))
      const error = yield* Effect.flip(auth.revoke(Redacted.make("t")))
      assert.deepInclude(error, { _tag: "UnexpectedStatus", status: 401, operation: "endurosat.revoke" })

      yield* fake.server.inject(Fault.reset({ path: "/oauth2/revoke" }))
      yield* withTime(auth.revoke(Redacted.make("t")))
      assert.strictEqual((yield* fake.server.requests).length, 3)
    }))

  it.effect("the compiler knows what each operation can fail with", () =>
    Effect.gen(function*() {
      const { auth } = yield* setup()
      const handled = auth.revoke(Redacted.make("t")).pipe(
        Effect.catchTags({
          BadRequest: () => Effect.succeed("bad request"),
          // @ts-expect-error revoke cannot fail with InvalidCredentials
          InvalidCredentials: () => Effect.succeed("invalid credentials")
        })
      )
      // Handling every tag authenticate documents leaves nothing in the error channel.
      const exhaustive: Effect.Effect<unknown, never> = auth.login({ username: user.username, password }).pipe(
        Effect.catchTags({
          InvalidCredentials: (error) => Effect.succeed(error.error),
          BadRequest: () => Effect.succeed("bad request"),
          TransportError: () => Effect.succeed("transport"),
          UnexpectedStatus: () => Effect.succeed("unexpected"),
          MalformedResponse: () => Effect.succeed("malformed")
        })
      )
      yield* exhaustive
      // The rejected handler above is a compile-time check only: that effect is not run.
      assert.isTrue(Effect.isEffect(handled))
    }))
})

describe("EnduroSatAuth.layerConfig", () => {
  it.effect("reads ENDUROSAT_CLIENT_ID and ENDUROSAT_BASE_URL", () =>
    Effect.gen(function*() {
      const fake = yield* FakeEnduroSat.make({ clientIds: ["configured-app"] })
      const config = ConfigProvider.fromMap(
        new Map([["ENDUROSAT_CLIENT_ID", "configured-app"], ["ENDUROSAT_BASE_URL", "https://gs.test/"]])
      )
      const auth = yield* EnduroSatAuth.EnduroSatAuth.pipe(
        Effect.provide(
          EnduroSatAuth.layerConfig().pipe(
            Layer.provide(FakeServer.layerClient(fake.server)),
            Layer.provide(Layer.setConfigProvider(config))
          )
        )
      )
      assert.deepInclude(auth, { clientId: "configured-app", baseUrl: "https://gs.test/" })
      yield* auth.login({ username: user.username, password })
      const requests = yield* fake.server.requests
      assert.strictEqual(requests[0].path, "/oauth2/token")
    }))

  it.effect("defaults the base URL and fails with a ConfigError naming a missing client id", () =>
    Effect.gen(function*() {
      const fake = yield* FakeEnduroSat.make()
      const build = (entries: ReadonlyArray<readonly [string, string]>) =>
        EnduroSatAuth.EnduroSatAuth.pipe(
          Effect.provide(
            EnduroSatAuth.layerConfig().pipe(
              Layer.provide(FakeServer.layerClient(fake.server)),
              Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries))))
            )
          )
        )
      const auth = yield* build([["ENDUROSAT_CLIENT_ID", "app"]])
      assert.strictEqual(auth.baseUrl, EnduroSatAuth.defaultBaseUrl)
      const error = yield* Effect.flip(build([]))
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(String(error), "ENDUROSAT_CLIENT_ID")
    }))

  it.effect("the pipeline settings in context apply", () =>
    Effect.gen(function*() {
      const fake = yield* FakeEnduroSat.make()
      const auth = yield* EnduroSatAuth.make({ clientId: fake.clientId }).pipe(
        Effect.provide(FakeServer.layerClient(fake.server)),
        Effect.provide(Endpoint.layerSettings({ retry: { maxAttempts: 1 } }))
      )
      yield* fake.server.inject(Fault.status(503))
      const error = yield* Effect.flip(auth.login({ username: user.username, password }))
      assert.deepInclude(error, { _tag: "UnexpectedStatus", status: 503 })
      assert.strictEqual((yield* fake.server.requests).length, 1)
    }))
})

describe("EnduroSatAuth secrets", () => {
  it.effect("a 401 whose error text echoes the password or the refresh token carries neither, in any spelling", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* setup()
      const tokens = yield* auth.login({ username: user.username, password })
      const refreshToken = Redacted.value(tokens.refreshToken!)
      const spelled = (secret: string) => [
        secret,
        encodeURIComponent(secret),
        new URLSearchParams({ s: secret }).toString().slice(2)
      ]
      const logs: Array<string> = []
      const logger = Logger.make(({ annotations, message }) => logs.push(JSON.stringify({ message, annotations })))
      yield* fake.server.inject(
        Fault.status(401, {
          body: JSON.stringify({ error: `Incorrect password ${spelled(user.password).join(" / ")}` })
        }),
        Fault.status(401, {
          body: JSON.stringify({ error: `Invalid Refresh Token ${spelled(refreshToken).join(" ")}` })
        })
      )
      const errors = [
        yield* Effect.flip(auth.login({ username: user.username, password })),
        yield* Effect.flip(auth.refresh(tokens.refreshToken!))
      ]
      for (const error of errors) {
        assert.strictEqual(error._tag, "InvalidCredentials")
        assert.include(error.message, "<redacted>")
        yield* Effect.logWarning("refresh failed", error).pipe(
          Effect.annotateLogs("effect-auth.error", error.message),
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
        const texts = [String(error), JSON.stringify(error), error.message, Cause.pretty(Cause.fail(error)), ...logs]
        for (const text of texts) {
          for (const secret of [...spelled(user.password), ...spelled(refreshToken)]) assert.notInclude(text, secret)
        }
      }
    }))
})
