import * as CalOAuth from "@effect-auth/cal/CalOAuth"
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as FakeCal from "@effect-auth/testing/FakeCal"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

const transports: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["undici", NodeHttpClient.layerUndici],
  ["fetch", FetchHttpClient.layer],
  ["node:http", NodeHttpClient.layer]
]

describe.each(transports)("CalOAuth over %s on a real socket", (_name, transport) => {
  it.scopedLive("authorize -> exchange -> refresh send Cal.com's headers and camelCase JSON bodies", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCal.make()
      const { url } = yield* NodeFakeServer.serve(fake.server)
      const cal = yield* CalOAuth.make({
        clientId: fake.client.id,
        clientSecret: Redacted.make(fake.client.secret),
        baseUrl: url
      }).pipe(Effect.provide(Endpoint.layerSettings({ timeout: "5 seconds" })))
      const redirectUri = fake.client.redirectUris[0]

      // The 302 is not followed: the redirect target (an unreachable host) is never contacted.
      const { code } = yield* cal.authorize({ redirectUri, sessionCookie: Redacted.make(fake.cookie()) })
      const tokens = yield* cal.exchange({ code })
      const refreshed = yield* cal.refresh({ refreshToken: tokens.refreshToken! })

      const [authorize, exchange, refresh] = yield* fake.server.requests
      const clientPath = `/v2/oauth/${fake.client.id}`

      assert.strictEqual(authorize.method, "POST")
      assert.strictEqual(authorize.path, `${clientPath}/authorize`)
      assert.strictEqual(authorize.headers["cookie"], fake.cookie())
      assert.strictEqual(authorize.headers["content-type"], "application/json")
      assert.strictEqual(authorize.headers["accept"], "application/json")
      assert.strictEqual(authorize.body, `{"redirectUri":"${redirectUri}"}`)

      assert.strictEqual(exchange.path, `${clientPath}/exchange`)
      assert.strictEqual(exchange.headers["authorization"], `Bearer ${Redacted.value(code)}`)
      assert.strictEqual(exchange.headers["content-type"], "application/json")
      assert.strictEqual(exchange.body, `{"clientSecret":"${fake.client.secret}"}`)
      assert.isUndefined(exchange.headers["cookie"])

      assert.strictEqual(refresh.path, `${clientPath}/refresh`)
      assert.strictEqual(refresh.headers["x-cal-secret-key"], fake.client.secret)
      assert.strictEqual(refresh.headers["content-type"], "application/json")
      assert.strictEqual(refresh.body, `{"refreshToken":"${Redacted.value(tokens.refreshToken!)}"}`)
      assert.isUndefined(refresh.headers["authorization"])

      // The rotated pair works, and only it.
      assert.deepStrictEqual(yield* fake.refreshTokens, [Redacted.value(refreshed.refreshToken!)])
      const client = yield* HttpClient.HttpClient
      const me = yield* client.execute(
        HttpClientRequest.get(`${url}/v2/me`).pipe(HttpClientRequest.bearerToken(refreshed.accessToken))
      )
      assert.strictEqual(me.status, 200)
      assert.strictEqual((yield* fake.server.requests).length, 4)
    }).pipe(Effect.provide(transport)))

  it.scopedLive("documented 400 and 401 errors decode from the wire", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCal.make()
      const { url } = yield* NodeFakeServer.serve(fake.server)
      const cal = yield* CalOAuth.make({
        clientId: fake.client.id,
        clientSecret: Redacted.make("wrong-secret"),
        baseUrl: url
      })
      const rejected = yield* Effect.flip(
        cal.authorize({ redirectUri: "https://elsewhere.example/", sessionCookie: Redacted.make(fake.cookie()) })
      )
      assert.deepInclude(rejected, {
        _tag: "AuthorizationRejected",
        status: 400,
        message: "Invalid 'redirect_uri' value."
      })

      const issued = yield* fake.issueTokens()
      const secret = yield* Effect.flip(cal.refresh({ refreshToken: Redacted.make(issued.refreshToken) }))
      assert.deepInclude(secret, { _tag: "InvalidClientSecret", status: 401, message: "Invalid client secret" })

      const exchange = yield* Effect.flip(cal.exchange({ code: Redacted.make("unknown-code") }))
      assert.deepInclude(exchange, { _tag: "ExchangeRejected", status: 400, message: "Invalid OAuth Client." })
    }).pipe(Effect.provide(transport)))
})
