import * as AuthError from "@effect-auth/core/AuthError"
import * as Endpoint from "@effect-auth/core/Endpoint"
import type * as RetryPolicy from "@effect-auth/core/RetryPolicy"
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
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
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

const call = (
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
  grant: RetryPolicy.Grant = "single-use"
) =>
  Effect.flatMap(
    Endpoint.makeClient({ baseUrl, provider: "test" }),
    (client) =>
      client.execute({
        operation: "test.token",
        grant,
        request: HttpClientRequest.post(path).pipe(HttpClientRequest.setHeaders(headers)),
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
      assert.deepInclude(refused, {
        _tag: "TransportError",
        reason: "Connect",
        attempts: 4,
        mayHaveReachedServer: false
      })
    }).pipe(Effect.provide(transport)))

  it.scopedLive("a header value no transport can send is an InvalidRequest in one attempt, sent nowhere", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make(app)
      const { url } = yield* NodeFakeServer.serve(server)
      for (const value of ["a\r\nx-injected: 1", "line\nbreak", "caf\u00e9 \u2603", "nul\u0000"]) {
        // Replayable: a reset would be retried, so one attempt shows nothing was tried.
        const error = yield* Effect.flip(call(url, "/token", { "x-custom": value }, "replayable"))
        assert.deepInclude(error, {
          _tag: "TransportError",
          reason: "InvalidRequest",
          attempts: 1,
          mayHaveReachedServer: false
        })
        assert.notInclude(String(error), value)
      }
      assert.deepStrictEqual(yield* server.requests, [])
    }).pipe(Effect.provide(transport)))

  it.scopedLive("a base URL with another scheme fails when the client is built, never as a defect", () =>
    Effect.gen(function*() {
      for (const baseUrl of ["ftp://127.0.0.1:21", "file:///tmp", "javascript:alert(1)"]) {
        const exit = yield* Effect.exit(call(baseUrl, "/token"))
        assert.isTrue(
          Exit.isFailure(exit) && Cause.isFailType(exit.cause) && ConfigError.isConfigError(exit.cause.error)
        )
      }
    }).pipe(Effect.provide(transport)))
})

describe("Endpoint over a closed undici client", () => {
  it.scopedLive("says the client was closed, in one attempt", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make(app)
      const { url } = yield* NodeFakeServer.serve(server)
      // The layer is released as soon as `make` returns: every later call meets a destroyed pool.
      const client = yield* Endpoint.makeClient({ baseUrl: url, provider: "test" }).pipe(
        Effect.provide(NodeHttpClient.layerUndici)
      )
      const error = yield* Effect.flip(client.execute({
        operation: "test.token",
        grant: "replayable",
        request: HttpClientRequest.post("/token"),
        responses: {}
      }))
      assert.deepInclude(error, { _tag: "TransportError", reason: "Closed", attempts: 1 })
      assert.include(String(error), "provide its layer where the service is used")
    }))
})
