import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"

const setup = Effect.gen(function*() {
  const processed = yield* Ref.make(0)
  const app = HttpRouter.empty.pipe(
    HttpRouter.post("/a", Effect.as(Ref.update(processed, (n) => n + 1), HttpServerResponse.text("a"))),
    HttpRouter.post("/b", HttpServerResponse.text("b"))
  )
  const server = yield* FakeServer.make(app)
  const send = (path: string) =>
    server.client.execute(
      HttpClientRequest.post(`http://fake.test${path}?x=1`).pipe(
        HttpClientRequest.bodyUrlParams({ field: "value" }),
        HttpClientRequest.setHeader("x-test", "yes")
      )
    ).pipe(
      Effect.flatMap((response) => Effect.map(response.text, (text) => `${response.status} ${text}`)),
      Effect.catchTag("RequestError", (error) => Effect.succeed(`${error.reason}: ${String(error.cause)}`))
    )
  return { server, send, processed } as const
})

describe("FakeServer", () => {
  it.effect("logs what it received, in order", () =>
    Effect.gen(function*() {
      const { send, server } = yield* setup
      assert.strictEqual(yield* send("/a"), "200 a")
      assert.strictEqual(yield* send("/missing"), "404 Not Found")
      const [first, second] = yield* server.requests
      assert.deepInclude(first, {
        method: "POST",
        path: "/a",
        query: { x: "1" },
        body: "field=value",
        fault: undefined
      })
      assert.strictEqual(first.headers["x-test"], "yes")
      assert.strictEqual(first.headers["content-type"], "application/x-www-form-urlencoded")
      assert.strictEqual(second.path, "/missing")
      yield* server.clearRequests
      assert.deepStrictEqual(yield* server.requests, [])
    }))

  it.effect("takes each fault once, in order, by the first request it targets", () =>
    Effect.gen(function*() {
      const { send, server } = yield* setup
      yield* server.inject(
        Fault.status(503, { retryAfter: 7, body: "later", path: "/b" }),
        Fault.malformedBody({ body: "{oops" })
      )
      assert.strictEqual(yield* send("/a"), "200 {oops")
      assert.strictEqual(yield* send("/a"), "200 a")
      assert.strictEqual(yield* send("/b"), "503 later")
      assert.strictEqual(yield* send("/b"), "200 b")
      const faults = (yield* server.requests).map((request) => request.fault)
      assert.deepStrictEqual(faults, ["MalformedBody", undefined, "Status", undefined])
    }))

  it.effect("drops connections before or after processing", () =>
    Effect.gen(function*() {
      const { processed, send, server } = yield* setup
      yield* server.inject(Fault.refused(), Fault.reset(), Fault.lostResponse())
      assert.include(yield* send("/a"), "Transport: Error: socket hang up (ECONNREFUSED)")
      assert.include(yield* send("/a"), "ECONNRESET")
      assert.strictEqual(yield* Ref.get(processed), 0)
      assert.include(yield* send("/a"), "ECONNRESET")
      assert.strictEqual(yield* Ref.get(processed), 1, "a lost response was processed")
    }))

  it.effect("delays on the test clock", () =>
    Effect.gen(function*() {
      const { send, server } = yield* setup
      yield* server.inject(Fault.delay("5 seconds"))
      const fiber = yield* Effect.fork(send("/a"))
      yield* TestClock.adjust("4 seconds")
      assert.isTrue((yield* Fiber.poll(fiber))._tag === "None")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "200 a")
    }))

  it.effect("layerClient provides the in-memory client", () =>
    Effect.gen(function*() {
      const { server } = yield* setup
      const text = yield* HttpClient.post("http://any.host/b").pipe(
        Effect.flatMap((response) => response.text),
        Effect.provide(FakeServer.layerClient(server))
      )
      assert.strictEqual(text, "b")
    }))
})
