import * as AuthError from "@effect-auth/core/AuthError"
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"

const app = HttpRouter.empty.pipe(
  HttpRouter.post("/token", HttpServerResponse.json({ access_token: "issued-token" })),
  HttpRouter.post("/redirect", HttpServerResponse.redirect("/token", { status: 302 }))
)

const transports: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["fetch", FetchHttpClient.layer],
  ["undici", NodeHttpClient.layerUndici],
  ["node:http", NodeHttpClient.layer]
]

const call = (baseUrl: string, path: string) =>
  Effect.flatMap(
    Endpoint.makeClient({ baseUrl, provider: "test" }),
    (client) =>
      client.execute({
        operation: "test.token",
        grant: "single-use",
        request: HttpClientRequest.post(path),
        responses: {
          200: Endpoint.decode(Schema.Struct({ access_token: Schema.String }), (body) =>
            Effect.succeed(body.access_token))
        }
      })
  ).pipe(Effect.provide(Endpoint.layerSettings({ timeout: "5 seconds", retry: { baseDelay: "10 millis" } })))

describe.each(transports)("Endpoint over %s on a real socket", (_name, transport) => {
  it.scopedLive("decodes, does not follow redirects, and classifies resets and refused connections", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make(app)
      const { url } = yield* NodeFakeServer.serve(server)

      assert.strictEqual(yield* call(url, "/token"), "issued-token")

      const redirect = yield* Effect.flip(call(url, "/redirect"))
      assert.instanceOf(redirect, AuthError.UnexpectedStatus)
      assert.deepInclude(redirect, { status: 302, location: "/token" })

      yield* server.inject(Fault.reset())
      const reset = yield* Effect.flip(call(url, "/token"))
      assert.deepInclude(reset, { _tag: "TransportError", reason: "Reset", attempts: 1 })

      const requests = yield* server.requests
      assert.deepStrictEqual(requests.map((request) => request.path), ["/token", "/redirect", "/token"])

      // A port nobody listens on: the connection is refused, so even a single-use grant is retried.
      const closed = yield* Scope.make()
      const { url: closedUrl } = yield* NodeFakeServer.serve(yield* FakeServer.make(app)).pipe(Scope.extend(closed))
      yield* Scope.close(closed, Exit.void)
      const refused = yield* Effect.flip(call(closedUrl, "/token"))
      assert.deepInclude(refused, { _tag: "TransportError", reason: "Connect", attempts: 4 })
    }).pipe(Effect.provide(transport)))
})
