import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import * as Fault from "@effect-auth/testing/Fault"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"

const start = 1_735_689_600_000
const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const decodeObject = Schema.decodeUnknown(JsonObject)
const base = "http://occam.test"

const setup = (options: FakeOccam.Options = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(start)
    const fake = yield* FakeOccam.make({
      accounts: [{ username: "ada@example.com", password: "pw" }],
      apiKeys: ["sk-occam-test"],
      ...options
    })
    const send = (request: HttpClientRequest.HttpClientRequest) =>
      fake.server.client.execute(request).pipe(
        Effect.flatMap((response) =>
          Effect.flatMap(response.json, decodeObject).pipe(
            Effect.map((body) => ({ status: response.status, headers: response.headers, body }))
          )
        ),
        Effect.orDie
      )
    const login = (form: Record<string, string>) =>
      send(HttpClientRequest.post(`${base}/auth/access-token`).pipe(HttpClientRequest.bodyUrlParams(form)))
    const refresh = (body: string) =>
      send(
        HttpClientRequest.post(`${base}/auth/refresh-token`).pipe(HttpClientRequest.bodyText(body, "application/json"))
      )
    const me = (token?: string) =>
      send(
        HttpClientRequest.get(`${base}/me`).pipe(token === undefined ? (r) => r : HttpClientRequest.bearerToken(token))
      )
    return { fake, send, login, refresh, me }
  })

const missing = (...loc: ReadonlyArray<string>) => ({ loc, msg: "field required", type: "value_error.missing" })

describe("FakeOccam", () => {
  it.effect("login answers a pair with expires_at in whole seconds", () =>
    Effect.gen(function*() {
      const { login } = yield* setup()
      const response = yield* login({ grant_type: "password", username: "ada@example.com", password: "pw" })
      assert.strictEqual(response.status, 200)
      assert.deepInclude(response.body, {
        token_type: "bearer",
        expires_at: start / 1000 + 15 * 60,
        refresh_token_expires_at: start / 1000 + 7 * 24 * 60 * 60
      })
      assert.match(String(response.body.access_token), /^occam-at-/)
      assert.match(String(response.body.refresh_token), /^occam-rt-/)
    }))

  it.effect("expires_at in milliseconds when configured", () =>
    Effect.gen(function*() {
      const { login } = yield* setup({ expiresAtUnit: "milliseconds", accessTokenLifetime: "1 minute" })
      const response = yield* login({ username: "ada@example.com", password: "pw" })
      assert.strictEqual(response.body.expires_at, start + 60_000)
    }))

  it.effect("login: 400 for a wrong password, FastAPI 422 for missing fields and a wrong grant_type", () =>
    Effect.gen(function*() {
      const { login, send } = yield* setup()
      const wrong = yield* login({ username: "ada@example.com", password: "nope" })
      assert.deepStrictEqual([wrong.status, wrong.body], [400, { detail: "Invalid email or password" }])
      const noPassword = yield* login({ username: "ada@example.com" })
      assert.strictEqual(noPassword.status, 422)
      assert.deepStrictEqual(noPassword.body, { detail: [missing("body", "password")] })
      const wrongGrant = yield* login({ grant_type: "client_credentials", username: "u", password: "p" })
      assert.deepStrictEqual(wrongGrant.body, {
        detail: [{
          loc: ["body", "grant_type"],
          msg: "string does not match regex \"password\"",
          type: "value_error.str.regex",
          ctx: { pattern: "password" }
        }]
      })
      // JSON is not a form: FastAPI sees no fields at all.
      const json = yield* send(
        HttpClientRequest.post(`${base}/auth/access-token`).pipe(
          HttpClientRequest.bodyUnsafeJson({ username: "ada@example.com", password: "pw" })
        )
      )
      assert.deepStrictEqual([json.status, json.body], [422, {
        detail: [missing("body", "username"), missing("body", "password")]
      }])
    }))

  it.effect("key exchange: a token without refresh, 400 for an unknown key, 422 without a key", () =>
    Effect.gen(function*() {
      const { fake, send } = yield* setup()
      const ok = yield* send(
        HttpClientRequest.get(`${base}/auth/access-token`).pipe(HttpClientRequest.setUrlParam("key", "sk-occam-test"))
      )
      assert.strictEqual(ok.status, 200)
      assert.deepStrictEqual(Object.keys(ok.body).sort(), ["access_token", "expires_at", "token_type"])
      const bad = yield* send(
        HttpClientRequest.get(`${base}/auth/access-token`).pipe(HttpClientRequest.setUrlParam("key", "sk-x"))
      )
      assert.deepStrictEqual([bad.status, bad.body], [400, { detail: "Invalid API key" }])
      const none = yield* send(HttpClientRequest.get(`${base}/auth/access-token`))
      assert.deepStrictEqual([none.status, none.body], [422, { detail: [missing("query", "key")] }])
      yield* fake.addApiKey("sk-new")
      const added = yield* send(
        HttpClientRequest.get(`${base}/auth/access-token`).pipe(HttpClientRequest.setUrlParam("key", "sk-new"))
      )
      assert.strictEqual(added.status, 200)
    }))

  it.effect("refresh rotates: reuse is 400, unknown is 404, expired is 400, bad bodies are 422", () =>
    Effect.gen(function*() {
      const { fake, login, refresh } = yield* setup({ refreshTokenLifetime: "1 hour" })
      const first = yield* login({ username: "ada@example.com", password: "pw" })
      const token = String(first.body.refresh_token)
      const second = yield* refresh(JSON.stringify({ refresh_token: token }))
      assert.strictEqual(second.status, 200)
      assert.notStrictEqual(second.body.refresh_token, token)

      const reused = yield* refresh(JSON.stringify({ refresh_token: token }))
      assert.deepStrictEqual([reused.status, reused.body], [400, {
        detail: "Refresh token expired or is already used"
      }])
      const unknown = yield* refresh(JSON.stringify({ refresh_token: "occam-rt-0.nope" }))
      assert.deepStrictEqual([unknown.status, unknown.body], [404, { detail: "Refresh token does not exist" }])

      yield* TestClock.adjust("1 hour")
      const expired = yield* refresh(JSON.stringify({ refresh_token: second.body.refresh_token }))
      assert.deepStrictEqual([expired.status, expired.body], [400, {
        detail: "Refresh token expired or is already used"
      }])

      assert.deepStrictEqual((yield* refresh("{}")).body, { detail: [missing("body", "refresh_token")] })
      assert.deepStrictEqual((yield* refresh("{\"refresh_token\": 7}")).body, {
        detail: [{ loc: ["body", "refresh_token"], msg: "str type expected", type: "type_error.str" }]
      })
      const notJson = yield* refresh("not json")
      assert.deepStrictEqual([notJson.status, notJson.body], [422, {
        detail: [{ loc: ["body", 0], msg: "Expecting value: line 1 column 1 (char 0)", type: "value_error.jsondecode" }]
      }])

      const third = yield* login({ username: "ada@example.com", password: "pw" })
      yield* fake.forgetRefreshTokens
      const forgotten = yield* refresh(JSON.stringify({ refresh_token: third.body.refresh_token }))
      assert.strictEqual(forgotten.status, 404)
      assert.deepStrictEqual(yield* fake.issued, { accessTokens: 3, refreshTokens: 3 })
    }))

  it.effect("the protected route: 200 while valid, 401 Token expired after, 401 for unknown or no token", () =>
    Effect.gen(function*() {
      const { fake, login, me } = yield* setup()
      const tokens = yield* login({ username: "ada@example.com", password: "pw" })
      const accessToken = String(tokens.body.access_token)
      assert.deepStrictEqual((yield* me(accessToken)).body, { subject: "ada@example.com" })

      yield* TestClock.adjust("14 minutes")
      assert.strictEqual((yield* me(accessToken)).status, 200)
      yield* TestClock.adjust("1 minute")
      const expired = yield* me(accessToken)
      assert.deepStrictEqual([expired.status, expired.body], [401, { detail: "Token expired" }])
      assert.strictEqual(expired.headers["www-authenticate"], "Bearer")

      assert.deepStrictEqual((yield* me("occam-at-0.forged")).body, { detail: "Could not validate credentials" })
      assert.deepStrictEqual((yield* me()).body, { detail: "Not authenticated" })

      const fresh = yield* login({ username: "ada@example.com", password: "pw" })
      yield* fake.expireAccessTokens
      assert.strictEqual((yield* me(String(fresh.body.access_token))).status, 401)
    }))

  it.effect("issues unique tokens and new lifetimes on request", () =>
    Effect.gen(function*() {
      const { fake, login } = yield* setup()
      const seen = new Set<unknown>()
      for (let i = 0; i < 20; i++) {
        const response = yield* login({ username: "ada@example.com", password: "pw" })
        seen.add(response.body.access_token)
        seen.add(response.body.refresh_token)
      }
      assert.strictEqual(seen.size, 40)
      yield* fake.setLifetimes({ accessToken: "30 seconds" })
      const short = yield* login({ username: "ada@example.com", password: "pw" })
      assert.strictEqual(short.body.expires_at, start / 1000 + 30)
    }))

  it.effect("faults and the request log come from the kit", () =>
    Effect.gen(function*() {
      const { fake, login } = yield* setup()
      yield* fake.server.inject(Fault.status(503, { retryAfter: 5, body: "{}" }))
      const throttled = yield* login({ username: "ada@example.com", password: "pw" })
      assert.strictEqual(throttled.status, 503)
      assert.strictEqual(throttled.headers["retry-after"], "5")
      const log = yield* fake.server.requests
      assert.deepStrictEqual(log.map((request) => [request.path, request.fault]), [["/auth/access-token", "Status"]])
      assert.strictEqual(log[0].body, "username=ada%40example.com&password=pw")
      assert.deepStrictEqual(yield* fake.issued, { accessTokens: 0, refreshTokens: 0 })
    }))
})
