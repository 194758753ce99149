import * as IxApiAuth from "@effect-auth/ix-api/IxApiAuth"
import * as FakeIxApi from "@effect-auth/testing/FakeIxApi"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

const apiKey = "ix-key-wire"
const apiSecret = "ix-5ecret-wire"

const serve = Effect.gen(function*() {
  const fake = yield* FakeIxApi.make({ apiKeys: [{ apiKey, apiSecret }] })
  const address = yield* NodeFakeServer.serve(fake.server)
  const auth = yield* IxApiAuth.make({ baseUrl: `${address.url}/api/v2` })
  return { fake, auth }
})

describe("IX-API on a real socket", () => {
  it.scopedLive("createToken and refreshToken send exactly the documented JSON bodies", () =>
    Effect.gen(function*() {
      const { auth, fake } = yield* serve
      const created = yield* auth.createToken({ apiKey, apiSecret: Redacted.make(apiSecret) })
      const refreshToken = Redacted.value(created.refreshToken!)
      const refreshed = yield* auth.refreshToken(created.refreshToken!)
      assert.isTrue(Option.isSome(fake.verify(Redacted.value(refreshed.accessToken))))
      assert.isDefined(refreshed.expiresAt)

      const [create, refresh] = yield* fake.server.requests
      assert.strictEqual(create.method, "POST")
      assert.strictEqual(create.path, "/api/v2/auth/token")
      assert.strictEqual(create.body, `{"api_key":"${apiKey}","api_secret":"${apiSecret}"}`)
      assert.strictEqual(create.headers["content-type"], "application/json")
      assert.strictEqual(create.headers["accept"], "application/json")
      assert.isUndefined(create.headers["authorization"])

      assert.strictEqual(refresh.method, "POST")
      assert.strictEqual(refresh.path, "/api/v2/auth/refresh")
      assert.strictEqual(refresh.body, `{"refresh_token":"${refreshToken}"}`)
      assert.strictEqual(refresh.headers["content-type"], "application/json")
      assert.isUndefined(refresh.headers["authorization"])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scopedLive("a problem+json 401 decodes over the wire", () =>
    Effect.gen(function*() {
      const { auth } = yield* serve
      const error = yield* Effect.flip(auth.refreshToken(Redacted.make("not-a-token")))
      assert(error._tag === "AuthenticationError")
      assert.strictEqual(error.reason, "authentication-error")
      assert.strictEqual(error.title, "Authentication Credentials Invalid")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})
