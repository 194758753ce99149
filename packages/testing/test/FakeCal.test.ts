import * as FakeCal from "@effect-auth/testing/FakeCal"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as TestClock from "effect/TestClock"

const setup = (options?: FakeCal.Options) =>
  Effect.gen(function*() {
    const fake = yield* FakeCal.make(options)
    const client = fake.server.client.pipe(HttpClient.mapRequest(HttpClientRequest.prependUrl("http://cal.test")))
    const send = (request: HttpClientRequest.HttpClientRequest) =>
      Effect.gen(function*() {
        const response = yield* client.execute(request)
        const text = yield* response.text
        return {
          status: response.status,
          headers: response.headers,
          body: text === "" || !text.startsWith("{") ? text : JSON.parse(text)
        }
      }).pipe(Effect.orDie)
    const base = `/v2/oauth/${fake.client.id}`
    const authorize = (cookie = fake.cookie(), redirectUri = fake.client.redirectUris[0]) =>
      send(
        HttpClientRequest.post(`${base}/authorize`).pipe(
          HttpClientRequest.setHeader("cookie", cookie),
          HttpClientRequest.bodyUnsafeJson({ redirectUri })
        )
      )
    const exchange = (code: string | undefined, clientSecret: unknown = fake.client.secret) =>
      send(
        HttpClientRequest.post(`${base}/exchange`).pipe(
          code === undefined ? (request) => request : HttpClientRequest.bearerToken(code),
          HttpClientRequest.bodyUnsafeJson({ clientSecret })
        )
      )
    const refresh = (refreshToken: unknown, secret: string | null = fake.client.secret) =>
      send(
        HttpClientRequest.post(`${base}/refresh`).pipe(
          secret === null ? (request) => request : HttpClientRequest.setHeader("x-cal-secret-key", secret),
          HttpClientRequest.bodyUnsafeJson({ refreshToken })
        )
      )
    const me = (accessToken: string) =>
      send(HttpClientRequest.get("/v2/me").pipe(HttpClientRequest.bearerToken(accessToken)))
    return { fake, send, authorize, exchange, refresh, me }
  })

describe("FakeCal", () => {
  it.effect("authorize answers 302 to <redirectUri>?code=<code>; the code is exchanged once", () =>
    Effect.gen(function*() {
      const { authorize, exchange, fake } = yield* setup()
      const redirect = yield* authorize()
      assert.strictEqual(redirect.status, 302)
      const location = redirect.headers["location"]
      const code = new URL(location).searchParams.get("code")!
      assert.strictEqual(location, `${fake.client.redirectUris[0]}?code=${code}`)
      assert.strictEqual(redirect.body, `Found. Redirecting to ${location}`)

      const tokens = yield* exchange(code)
      assert.strictEqual(tokens.status, 200)
      assert.strictEqual(tokens.body.status, "success")
      assert.deepStrictEqual(Object.keys(tokens.body.data), [
        "accessToken",
        "refreshToken",
        "accessTokenExpiresAt",
        "refreshTokenExpiresAt"
      ])
      const again = yield* exchange(code)
      assert.strictEqual(again.status, 400)
      assert.strictEqual(again.body.error.message, "Invalid Authorization Token.")
    }))

  it.effect("errors are Cal.com's envelope with NestJS details", () =>
    Effect.gen(function*() {
      const { authorize, fake } = yield* setup()
      yield* TestClock.adjust("2 seconds")
      const response = yield* authorize(fake.cookie(), "https://other.example/")
      assert.strictEqual(response.status, 400)
      assert.deepStrictEqual(response.body, {
        status: "error",
        timestamp: "1970-01-01T00:00:02.000Z",
        path: `/v2/oauth/${fake.client.id}/authorize`,
        error: {
          code: "BadRequestException",
          message: "Invalid 'redirect_uri' value.",
          details: { message: "Invalid 'redirect_uri' value.", error: "Bad Request", statusCode: 400 }
        }
      })
    }))

  it.effect("authorize: 401 without a session, one outstanding code per user and client", () =>
    Effect.gen(function*() {
      const { authorize, fake } = yield* setup()
      const anonymous = yield* authorize("other=1")
      assert.strictEqual(anonymous.status, 401)
      assert.strictEqual(anonymous.body.error.code, "UnauthorizedException")
      assert.strictEqual((yield* authorize()).status, 302)
      const again = yield* authorize()
      assert.strictEqual(again.status, 400)
      assert.strictEqual(
        again.body.error.message,
        `User with id=${fake.user.id} has already authorized client with id=${fake.client.id}.`
      )
    }))

  it.effect("exchange: body validation first, a missing Authorization header is Cal.com's 500, a wrong secret 400", () =>
    Effect.gen(function*() {
      const { authorize, exchange } = yield* setup()
      const code = new URL((yield* authorize()).headers["location"]).searchParams.get("code")!
      const invalid = yield* exchange(code, 42)
      assert.strictEqual(invalid.status, 400)
      assert.strictEqual(invalid.body.error.message, "Bad Request Exception")
      assert.deepStrictEqual(invalid.body.error.details.errors[0].constraints, {
        isString: "clientSecret must be a string"
      })
      assert.strictEqual((yield* exchange(undefined)).status, 500)
      const wrong = yield* exchange(code, "not-the-secret")
      assert.strictEqual(wrong.body.error.message, "Invalid OAuth Client.")
      assert.strictEqual((yield* exchange(code)).status, 200)
    }))

  it.effect("tokens: 60 minutes rounded down to the minute, a year rounded down to the day, unique JWT shapes", () =>
    Effect.gen(function*() {
      const { fake } = yield* setup()
      yield* TestClock.adjust(10 * 3_600_000 + 59_000)
      const first = yield* fake.issueTokens()
      const second = yield* fake.issueTokens()
      assert.strictEqual(first.accessTokenExpiresAt, 11 * 3_600_000)
      assert.strictEqual(first.refreshTokenExpiresAt, 365 * 86_400_000)
      const tokens = [first.accessToken, first.refreshToken, second.accessToken, second.refreshToken]
      assert.strictEqual(new Set(tokens).size, 4)
      const payload = JSON.parse(Either.getOrThrow(Encoding.decodeBase64UrlString(first.accessToken.split(".")[1])))
      assert.deepInclude(payload, { clientId: fake.client.id, ownerId: fake.user.id, expiresAt: 11 * 3_600_000 })
    }))

  it.effect("refresh rotates: the presented token is deleted, reuse is 400 \"Invalid refresh token\"", () =>
    Effect.gen(function*() {
      const { fake, refresh } = yield* setup()
      const issued = yield* fake.issueTokens()
      const rotated = yield* refresh(issued.refreshToken)
      assert.strictEqual(rotated.status, 200)
      assert.deepStrictEqual(yield* fake.refreshTokens, [rotated.body.data.refreshToken])
      const reused = yield* refresh(issued.refreshToken)
      assert.strictEqual(reused.status, 400)
      assert.strictEqual(reused.body.error.message, "Invalid refresh token")
    }))

  it.effect("refresh guard: 401 for a wrong or missing secret, before the token is looked at", () =>
    Effect.gen(function*() {
      const { fake, refresh } = yield* setup()
      const issued = yield* fake.issueTokens()
      const wrong = yield* refresh(issued.refreshToken, "nope")
      assert.strictEqual(wrong.status, 401)
      assert.strictEqual(wrong.body.error.message, "Invalid client secret")
      const missing = yield* refresh(issued.refreshToken, null)
      assert.strictEqual(missing.status, 401)
      assert.match(missing.body.error.message, /^No authentication method provided/)
      assert.deepStrictEqual(yield* fake.refreshTokens, [issued.refreshToken])
    }))

  it.effect("GET /v2/me: 200 while valid, 498 once expired, 401 once a refresh deleted the expired token", () =>
    Effect.gen(function*() {
      const { fake, me, refresh } = yield* setup()
      const issued = yield* fake.issueTokens()
      assert.strictEqual((yield* me(issued.accessToken)).status, 200)
      yield* TestClock.adjust("60 minutes")
      assert.strictEqual((yield* me(issued.accessToken)).status, 200)
      yield* TestClock.adjust("1 millis")
      const expired = yield* me(issued.accessToken)
      assert.strictEqual(expired.status, 498)
      assert.deepInclude(expired.body.error, { code: "TokenExpiredException", message: "ACCESS_TOKEN_IS_EXPIRED" })

      const rotated = yield* refresh(issued.refreshToken)
      const gone = yield* me(issued.accessToken)
      assert.strictEqual(gone.status, 401)
      assert.strictEqual(gone.body.error.message, "Invalid Access Token.")
      assert.strictEqual((yield* me(rotated.body.data.accessToken)).status, 200)
      assert.strictEqual((yield* me("made-up")).status, 401)
    }))

  it.effect("a still-valid access token survives a refresh (Cal.com only deletes expired ones)", () =>
    Effect.gen(function*() {
      const { fake, me, refresh } = yield* setup()
      const issued = yield* fake.issueTokens()
      yield* refresh(issued.refreshToken)
      assert.strictEqual((yield* me(issued.accessToken)).status, 200)
    }))

  it.effect("the 2024 server leaves refreshTokenExpiresAt out", () =>
    Effect.gen(function*() {
      const { fake, refresh } = yield* setup({ sendRefreshTokenExpiresAt: false })
      const issued = yield* fake.issueTokens()
      const rotated = yield* refresh(issued.refreshToken)
      assert.deepStrictEqual(Object.keys(rotated.body.data), ["accessToken", "refreshToken", "accessTokenExpiresAt"])
    }))

  it.effect("clients and users can be added; codes are per user and client", () =>
    Effect.gen(function*() {
      const { authorize, fake, send } = yield* setup()
      const other: FakeCal.User = { id: 7, email: "seven@example.com", sessionToken: "session-7" }
      const partner: FakeCal.Client = {
        id: "partner",
        secret: "partner-secret",
        redirectUris: ["https://partner.test/cb"]
      }
      yield* fake.addUser(other)
      yield* fake.addClient(partner)
      assert.strictEqual((yield* authorize()).status, 302)
      assert.strictEqual((yield* authorize(fake.cookie(other))).status, 302)
      const forPartner = yield* send(
        HttpClientRequest.post("/v2/oauth/partner/authorize").pipe(
          HttpClientRequest.setHeader("cookie", fake.cookie(other)),
          HttpClientRequest.bodyUnsafeJson({ redirectUri: "https://partner.test/cb" })
        )
      )
      assert.strictEqual(forPartner.status, 302)
      assert.strictEqual((yield* fake.codes).length, 3)
      const partnerTokens = yield* fake.issueTokens({ userId: other.id, clientId: partner.id })
      const refreshed = yield* send(
        HttpClientRequest.post("/v2/oauth/partner/refresh").pipe(
          HttpClientRequest.setHeader("x-cal-secret-key", partner.secret),
          HttpClientRequest.bodyUnsafeJson({ refreshToken: partnerTokens.refreshToken })
        )
      )
      assert.strictEqual(refreshed.status, 200)
      // A refresh token of one client is not accepted for another.
      const crossed = yield* send(
        HttpClientRequest.post(`/v2/oauth/${fake.client.id}/refresh`).pipe(
          HttpClientRequest.setHeader("x-cal-secret-key", fake.client.secret),
          HttpClientRequest.bodyUnsafeJson({ refreshToken: refreshed.body.data.refreshToken })
        )
      )
      assert.strictEqual(crossed.status, 400)
    }))
})
