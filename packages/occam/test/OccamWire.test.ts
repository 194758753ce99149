import * as OccamAuth from "@effect-auth/occam/OccamAuth"
import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

const username = "ada+ops@example.com"
const password = "p&ss=w0rd 5ecret"
const apiKey = "sk-occam-5ecret/key+1"

describe("OccamAuth on a real socket", () => {
  it.scopedLive("sends a password form, a JSON refresh and a key in the query string", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOccam.make({ accounts: [{ username, password }], apiKeys: [apiKey] })
      const { url } = yield* NodeFakeServer.serve(fake.server)
      const auth = yield* OccamAuth.make({ baseUrl: url })

      const tokens = yield* auth.login({ username, password: Redacted.make(password) })
      yield* auth.login({
        username,
        password: Redacted.make(password),
        scope: "agents:read runs:write",
        clientId: "cli",
        clientSecret: Redacted.make("cs/5ecret")
      })
      yield* auth.refresh(tokens.refreshToken!)
      yield* auth.tokenFromKey(Redacted.make(apiKey))

      const [login, loginWithOptions, refresh, key] = yield* fake.server.requests
      assert.strictEqual(login.method, "POST")
      assert.strictEqual(login.path, "/auth/access-token")
      assert.strictEqual(login.headers["content-type"], "application/x-www-form-urlencoded")
      assert.strictEqual(login.headers["accept"], "application/json")
      assert.strictEqual(
        login.body,
        "grant_type=password&username=ada%2Bops%40example.com&password=p%26ss%3Dw0rd+5ecret"
      )
      assert.strictEqual(
        loginWithOptions.body,
        "grant_type=password&username=ada%2Bops%40example.com&password=p%26ss%3Dw0rd+5ecret" +
          "&scope=agents%3Aread+runs%3Awrite&client_id=cli&client_secret=cs%2F5ecret"
      )

      assert.strictEqual(refresh.method, "POST")
      assert.strictEqual(refresh.path, "/auth/refresh-token")
      assert.strictEqual(refresh.headers["content-type"], "application/json")
      assert.strictEqual(refresh.body, JSON.stringify({ refresh_token: Redacted.value(tokens.refreshToken!) }))

      assert.strictEqual(key.method, "GET")
      assert.strictEqual(key.path, "/auth/access-token")
      assert.deepStrictEqual(key.query, { key: apiKey })
      assert.strictEqual(key.body, "")
      assert.isUndefined(key.headers["content-type"])
      assert.isUndefined(key.headers["authorization"])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})
