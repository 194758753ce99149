import * as AuthSession from "@effect-auth/core/AuthSession"
import * as SessionClient from "@effect-auth/core/SessionClient"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/**
 * A server whose first answer is a 401 that never ends (a byte every 50 ms), and whose later
 * answers are a 200 naming the token they saw.
 */
const dripping = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly server: Http.Server }>((resume) => {
    let first = true
    const server = Http.createServer((request, response) => {
      if (first) {
        first = false
        response.writeHead(401, { "content-type": "text/plain" })
        const timer = setInterval(() => response.write("."), 50)
        response.on("close", () => clearInterval(timer))
        return
      }
      response.writeHead(200, { "content-type": "text/plain" })
      response.end(request.headers.authorization ?? "")
    })
    server.listen(
      0,
      "127.0.0.1",
      () => resume(Effect.succeed({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }))
    )
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const transports: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["fetch", FetchHttpClient.layer],
  ["undici", NodeHttpClient.layerUndici],
  ["node:http", NodeHttpClient.layer]
]

describe.each(transports)("SessionClient over %s on a real socket", (_name, transport) => {
  it.scopedLive("a 401 whose body drips forever does not hang the caller: it is dropped and the retry answers", () =>
    Effect.gen(function*() {
      const { url } = yield* dripping
      let issued = 0
      const session = yield* AuthSession.make({
        provider: "drip",
        key: "drip",
        login: Effect.sync(() =>
          TokenSet.fromExpiresAt({ accessToken: Redacted.make(`token-${++issued}`), expiresAt: 4_000_000_000 })
        )
      })
      const client = SessionClient.withSession(yield* HttpClient.HttpClient, session)
      const response = yield* client.get(`${url}/me`).pipe(
        // A guard, not a measurement: without the bound, the caller waits forever.
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "the caller hung" })
      )
      assert.strictEqual(response.status, 200)
      assert.strictEqual(yield* response.text, "Bearer token-2")
    }).pipe(Effect.provide(transport)))
})
