import * as FakeIxApi from "@effect-auth/testing/FakeIxApi"
import * as Fault from "@effect-auth/testing/Fault"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { createHmac } from "node:crypto"

const start = 1_735_689_600_000
const origin = "https://ixp.test"

const setup = (options: FakeIxApi.Options = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(start)
    return yield* FakeIxApi.make({ apiKeys: [{ apiKey: "key", apiSecret: "secret", subject: "user-1" }], ...options })
  })

const send = (fake: FakeIxApi.FakeIxApi, request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const response = yield* fake.server.client.execute(request.pipe(HttpClientRequest.prependUrl(origin)))
    const text = yield* response.text
    const json: unknown = response.headers["content-type"]?.includes("json") ? JSON.parse(text) : text
    return { status: response.status, contentType: response.headers["content-type"], json }
  }).pipe(Effect.orDie)

const post = (fake: FakeIxApi.FakeIxApi, path: string, body: unknown) =>
  send(fake, HttpClientRequest.post(`/api/v2${path}`).pipe(HttpClientRequest.bodyUnsafeJson(body)))

const accounts = (fake: FakeIxApi.FakeIxApi, token?: string) =>
  send(
    fake,
    token === undefined
      ? HttpClientRequest.get("/api/v2/accounts")
      : HttpClientRequest.get("/api/v2/accounts").pipe(HttpClientRequest.bearerToken(token))
  )

const pairOf = Schema.decodeUnknownSync(Schema.Struct({ access_token: Schema.String, refresh_token: Schema.String }))
const problemOf = Schema.decodeUnknownSync(Schema.Struct({
  type: Schema.String,
  properties: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String, reason: Schema.String })))
}))
const typeOf = (json: unknown) => problemOf(json).type

const login = (fake: FakeIxApi.FakeIxApi, apiKey = "key", apiSecret = "secret") =>
  Effect.map(post(fake, "/auth/token", { api_key: apiKey, api_secret: apiSecret }), (response) => {
    assert.strictEqual(response.status, 201)
    return pairOf(response.json)
  })
const problemType = (name: string) => `https://errors.ix-api.net/v2/${name}.html`

const decodePart = (part: string) =>
  Schema.decodeUnknownSync(Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown })))(
    Either.getOrThrow(Encoding.decodeBase64UrlString(part))
  )

describe("FakeIxApi tokens", () => {
  it.effect("are HS256 JWTs signed with the fake's key, with iss, sub, iat, exp and a unique jti", () =>
    Effect.gen(function*() {
      // Longer than the 64-byte HMAC block, so the key is hashed first: both paths of HMAC run.
      const signingKey = "k".repeat(100)
      const fake = yield* setup({ signingKey })
      const pairs = [yield* login(fake), yield* login(fake)]
      const jtis = new Set<unknown>()
      for (const pair of pairs) {
        for (
          const [token, kind, lifetime] of [
            [pair.access_token, "access", 300],
            [pair.refresh_token, "refresh", 86_400]
          ] as const
        ) {
          const [header, payload, signature] = token.split(".")
          assert.deepStrictEqual(decodePart(header), { alg: "HS256", typ: "JWT" })
          const expected = createHmac("sha256", signingKey).update(`${header}.${payload}`).digest("base64url")
          assert.strictEqual(signature, expected)
          const claims = decodePart(payload)
          assert.strictEqual(claims.sub, "user-1")
          assert.strictEqual(claims.token_type, kind)
          assert.strictEqual(claims.iat, start / 1000)
          assert.strictEqual(claims.exp, start / 1000 + lifetime)
          jtis.add(claims.jti)
          assert.isTrue(Option.isSome(fake.verify(token)))
        }
      }
      assert.strictEqual(jtis.size, 4)
    }))

  it.effect("verify rejects a token whose payload was altered", () =>
    Effect.gen(function*() {
      const fake = yield* setup()
      const { access_token } = yield* login(fake)
      const [header, payload, signature] = access_token.split(".")
      const claims = decodePart(payload)
      const forged = Encoding.encodeBase64Url(JSON.stringify({ ...claims, exp: Number(claims.exp) + 3600 }))
      assert.isTrue(Option.isNone(fake.verify(`${header}.${forged}.${signature}`)))
      const response = yield* accounts(fake, `${header}.${forged}.${signature}`)
      assert.strictEqual(response.status, 401)
      assert.strictEqual(typeOf(response.json), problemType("authentication-error"))
    }))

  it.effect("setLifetimes and setTokenFormat apply to tokens issued afterwards", () =>
    Effect.gen(function*() {
      const fake = yield* setup()
      yield* fake.setLifetimes({ access: "1 minute", refresh: "10 minutes" })
      const short = yield* login(fake)
      assert.strictEqual(decodePart(short.access_token.split(".")[1]).exp, start / 1000 + 60)
      assert.strictEqual(decodePart(short.refresh_token.split(".")[1]).exp, start / 1000 + 600)
      yield* fake.setTokenFormat("jwt-without-exp")
      const noExp = yield* login(fake)
      assert.notProperty(decodePart(noExp.access_token.split(".")[1]), "exp")
      yield* fake.setTokenFormat("opaque")
      const opaque = yield* login(fake)
      assert.strictEqual(opaque.access_token.split(".").length, 1)
      assert.strictEqual((yield* accounts(fake, opaque.access_token)).status, 200)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* accounts(fake, opaque.access_token)).status, 401)
      assert.strictEqual((yield* accounts(fake, noExp.access_token)).status, 401)
    }))
})

describe("FakeIxApi POST /auth/token", () => {
  it.effect("201 for a known key and secret; 401 authentication-error otherwise", () =>
    Effect.gen(function*() {
      const fake = yield* setup()
      const ok = yield* post(fake, "/auth/token", { api_key: "key", api_secret: "secret" })
      assert.strictEqual(ok.status, 201)
      const wrong = yield* post(fake, "/auth/token", { api_key: "key", api_secret: "nope" })
      assert.strictEqual(wrong.status, 401)
      assert.strictEqual(wrong.contentType, "application/problem+json")
      assert.deepStrictEqual(wrong.json, {
        type: problemType("authentication-error"),
        title: "Authentication Credentials Invalid",
        status: 401,
        detail: "The API key or secret is not valid."
      })
      assert.deepStrictEqual(yield* fake.issued, { created: 1, refreshed: 0 })
    }))

  it.effect("400 validation-error with properties for missing or blank fields", () =>
    Effect.gen(function*() {
      const fake = yield* setup()
      const response = yield* post(fake, "/auth/token", { api_key: "", api_secret: 7 })
      assert.strictEqual(response.status, 400)
      assert.deepStrictEqual(response.json, {
        type: problemType("validation-error"),
        title: "Some fields did not validate.",
        status: 400,
        properties: [
          { name: "api_key", reason: "This field may not be blank." },
          { name: "api_secret", reason: "Not a valid string." }
        ]
      })
      const missing = yield* post(fake, "/auth/token", {})
      assert.deepStrictEqual(problemOf(missing.json).properties?.map((p) => p.name), ["api_key", "api_secret"])
      const notJson = yield* send(
        fake,
        HttpClientRequest.post("/api/v2/auth/token").pipe(HttpClientRequest.bodyText("api_key=key"))
      )
      assert.strictEqual(notJson.status, 400)
      assert.strictEqual(typeOf(notJson.json), problemType("validation-error"))
    }))

  it.effect("addApiKey and removeApiKey: a removed user can neither log in nor use its tokens", () =>
    Effect.gen(function*() {
      const fake = yield* setup()
      yield* fake.addApiKey("other", "pw")
      const pair = yield* login(fake, "other", "pw")
      assert.strictEqual((yield* accounts(fake, pair.access_token)).status, 200)
      yield* fake.removeApiKey("other")
      assert.strictEqual((yield* post(fake, "/auth/token", { api_key: "other", api_secret: "pw" })).status, 401)
      assert.strictEqual((yield* accounts(fake, pair.access_token)).status, 401)
      assert.strictEqual((yield* post(fake, "/auth/refresh", { refresh_token: pair.refresh_token })).status, 401)
    }))
})

describe("FakeIxApi POST /auth/refresh", () => {
  it.effect("201 with a new pair; the old refresh token is spent", () =>
    Effect.gen(function*() {
      const fake = yield* setup()
      const pair = yield* login(fake)
      const first = yield* post(fake, "/auth/refresh", { refresh_token: pair.refresh_token })
      assert.strictEqual(first.status, 201)
      assert.notStrictEqual(pairOf(first.json).refresh_token, pair.refresh_token)
      const again = yield* post(fake, "/auth/refresh", { refresh_token: pair.refresh_token })
      assert.strictEqual(again.status, 401)
      assert.strictEqual(typeOf(again.json), problemType("authentication-error"))
      assert.deepStrictEqual(yield* fake.issued, { created: 1, refreshed: 1 })
    }))

  it.effect("with singleUseRefresh: false a refresh token can be presented again", () =>
    Effect.gen(function*() {
      const fake = yield* setup({ singleUseRefresh: false })
      const pair = yield* login(fake)
      yield* post(fake, "/auth/refresh", { refresh_token: pair.refresh_token })
      assert.strictEqual((yield* post(fake, "/auth/refresh", { refresh_token: pair.refresh_token })).status, 201)
    }))

  it.effect("401 signature-expired once the refresh token has expired (exactly at exp)", () =>
    Effect.gen(function*() {
      const fake = yield* setup({ refreshLifetime: "1 hour" })
      const pair = yield* login(fake)
      yield* TestClock.adjust("59 minutes")
      const stillValid = yield* login(fake)
      yield* TestClock.adjust("1 minute")
      const expired = yield* post(fake, "/auth/refresh", { refresh_token: pair.refresh_token })
      assert.strictEqual(expired.status, 401)
      assert.strictEqual(typeOf(expired.json), problemType("signature-expired"))
      assert.strictEqual((yield* post(fake, "/auth/refresh", { refresh_token: stillValid.refresh_token })).status, 201)
    }))

  it.effect("an access token, an unknown token or a revoked one is 401 authentication-error; none is 400", () =>
    Effect.gen(function*() {
      const fake = yield* setup()
      const pair = yield* login(fake)
      for (const token of [pair.access_token, "nonsense"]) {
        const response = yield* post(fake, "/auth/refresh", { refresh_token: token })
        assert.strictEqual(response.status, 401)
        assert.strictEqual(typeOf(response.json), problemType("authentication-error"))
      }
      yield* fake.revokeTokens("refresh")
      assert.strictEqual((yield* post(fake, "/auth/refresh", { refresh_token: pair.refresh_token })).status, 401)
      assert.strictEqual((yield* accounts(fake, pair.access_token)).status, 200)
      const none = yield* post(fake, "/auth/refresh", {})
      assert.strictEqual(none.status, 400)
      assert.strictEqual(typeOf(none.json), problemType("validation-error"))
    }))
})

describe("FakeIxApi GET /accounts", () => {
  it.effect("200 with a valid access token; 401 not-authenticated, authentication-error, signature-expired", () =>
    Effect.gen(function*() {
      const fake = yield* setup()
      const pair = yield* login(fake)
      const ok = yield* accounts(fake, pair.access_token)
      assert.strictEqual(ok.status, 200)
      assert.deepStrictEqual(ok.json, [{ id: "ACC-1", name: "user-1", state: "production", managing_account: null }])

      const none = yield* accounts(fake)
      assert.strictEqual(none.status, 401)
      assert.strictEqual(typeOf(none.json), problemType("not-authenticated"))
      assert.strictEqual(typeOf((yield* accounts(fake, pair.refresh_token)).json), problemType("authentication-error"))

      yield* TestClock.adjust("299 seconds")
      assert.strictEqual((yield* accounts(fake, pair.access_token)).status, 200)
      yield* TestClock.adjust("1 second")
      const expired = yield* accounts(fake, pair.access_token)
      assert.strictEqual(expired.status, 401)
      assert.strictEqual(expired.contentType, "application/problem+json")
      assert.strictEqual(typeOf(expired.json), problemType("signature-expired"))
    }))

  it.effect("revokeTokens(\"access\") makes a valid access token answer 401", () =>
    Effect.gen(function*() {
      const fake = yield* setup()
      const pair = yield* login(fake)
      yield* fake.revokeTokens("access")
      const response = yield* accounts(fake, pair.access_token)
      assert.strictEqual(response.status, 401)
      assert.strictEqual(typeOf(response.json), problemType("authentication-error"))
    }))
})

describe("FakeIxApi with the kit", () => {
  it.effect("a basePath mounts the API elsewhere; faults and the request log apply", () =>
    Effect.gen(function*() {
      const fake = yield* setup({ basePath: "/ixapi/v2" })
      yield* fake.server.inject(Fault.status(503, { retryAfter: 3, path: "/ixapi/v2/auth/token" }))
      const request = HttpClientRequest.post("/ixapi/v2/auth/token").pipe(
        HttpClientRequest.bodyUnsafeJson({ api_key: "key", api_secret: "secret" })
      )
      assert.strictEqual((yield* send(fake, request)).status, 503)
      assert.strictEqual((yield* send(fake, request)).status, 201)
      assert.strictEqual((yield* post(fake, "/auth/token", {})).status, 404)
      const log = yield* fake.server.requests
      assert.deepStrictEqual(log.map((entry) => [entry.path, entry.fault]), [
        ["/ixapi/v2/auth/token", "Status"],
        ["/ixapi/v2/auth/token", undefined],
        ["/api/v2/auth/token", undefined]
      ])
      assert.strictEqual(log[1].body, "{\"api_key\":\"key\",\"api_secret\":\"secret\"}")
    }))
})
