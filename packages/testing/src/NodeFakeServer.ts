/**
 * Serves a fake on a real localhost port, for examples, benchmarks and wire-format tests. The
 * fault queue and request log are the same as in memory; a dropped connection destroys the
 * socket, so the client sees a real reset.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type * as FakeServer from "./FakeServer.js"

/**
 * Where a served fake listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  /** The base URL, such as `http://127.0.0.1:40123`. */
  readonly url: string
  readonly port: number
}

/**
 * Serves the fake on `127.0.0.1` (on a free port unless one is given) for as long as the scope
 * lives.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (
  server: FakeServer.FakeServer,
  options: { readonly port?: number | undefined } = {}
): Effect.Effect<Address, HttpServerError.ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    const httpServer = yield* NodeHttpServer.make(() => Http.createServer(), {
      port: options.port ?? 0,
      host: "127.0.0.1"
    })
    yield* httpServer.serve(
      server.handle.pipe(
        Effect.catchTag("ConnectionDropped", () =>
          Effect.gen(function*() {
            const request = yield* HttpServerRequest.HttpServerRequest
            NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
            return HttpServerResponse.empty()
          }))
      )
    )
    const port = httpServer.address._tag === "TcpAddress" ? httpServer.address.port : 0
    return { url: `http://127.0.0.1:${port}`, port }
  })
