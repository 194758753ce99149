import * as EnduroSatAuth from "@effect-auth/endurosat/EnduroSatAuth"
import * as FakeEnduroSat from "@effect-auth/testing/FakeEnduroSat"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

describe("EnduroSatAuth on a real socket", () => {
  it.scopedLive("sends both operations as the document says: form fields, content type, accept", () =>
    Effect.gen(function*() {
      const fake = yield* FakeEnduroSat.make({
        clientIds: ["4abc2def"],
        users: [{ username: "operator+ops@example.com", password: "p&ss=w rd" }]
      })
      const { url } = yield* NodeFakeServer.serve(fake.server)
      const auth = yield* EnduroSatAuth.make({ clientId: "4abc2def", baseUrl: url })

      const tokens = yield* auth.authenticate({
        grantType: "password",
        username: "operator+ops@example.com",
        password: Redacted.make("p&ss=w rd")
      })
      const refreshToken = Redacted.value(tokens.refreshToken!)
      const refreshed = yield* auth.authenticate({ grantType: "refresh_token", refreshToken: tokens.refreshToken! })
      assert.isUndefined(refreshed.refreshToken)
      yield* auth.revoke(tokens.refreshToken!)

      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map((request) => [request.method, request.path]), [
        ["POST", "/oauth2/token"],
        ["POST", "/oauth2/token"],
        ["POST", "/oauth2/revoke"]
      ])
      for (const request of requests) {
        assert.strictEqual(request.headers["content-type"], "application/x-www-form-urlencoded")
        assert.include(request.headers["accept"], "application/json")
        // No credential travels in a header: the app client is public and the endpoints unauthenticated.
        assert.isUndefined(request.headers["authorization"])
        assert.deepStrictEqual(request.query, {})
      }
      assert.strictEqual(
        requests[0].body,
        "client_id=4abc2def&grant_type=password&username=operator%2Bops%40example.com&password=p%26ss%3Dw+rd"
      )
      assert.deepStrictEqual([...new URLSearchParams(requests[1].body)], [
        ["client_id", "4abc2def"],
        ["grant_type", "refresh_token"],
        ["refresh_token", refreshToken]
      ])
      assert.deepStrictEqual([...new URLSearchParams(requests[2].body)], [
        ["client_id", "4abc2def"],
        ["token", refreshToken]
      ])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scopedLive("reads the real 204, 400 and 401 answers off the wire", () =>
    Effect.gen(function*() {
      const fake = yield* FakeEnduroSat.make()
      const { url } = yield* NodeFakeServer.serve(fake.server)
      const auth = yield* EnduroSatAuth.make({ clientId: fake.clientId, baseUrl: url })

      const invalid = yield* Effect.flip(
        auth.login({ username: FakeEnduroSat.defaultUser.username, password: Redacted.make("wrong") })
      )
      assert.deepInclude(invalid, { _tag: "InvalidCredentials", error: "Incorrect username or password." })

      const badRequest = yield* Effect.flip(auth.login({ username: "", password: Redacted.make("x") }))
      assert.strictEqual(badRequest._tag, "BadRequest")

      // 204 with no body at all.
      yield* auth.revoke(Redacted.make("unknown-token"))
      const requests = yield* fake.server.requests
      assert.strictEqual(requests.length, 3)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})
