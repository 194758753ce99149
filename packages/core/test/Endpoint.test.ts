import * as AuthError from "@effect-auth/core/AuthError"
import * as Endpoint from "@effect-auth/core/Endpoint"
import type * as RetryPolicy from "@effect-auth/core/RetryPolicy"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import * as SpanRecorder from "@effect-auth/testing/SpanRecorder"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Headers from "@effect/platform/Headers"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"

const password = "pw-5ecret-hunter2"
const clientSecret = "cs-5ecret-0xdeadbeef"
const refreshToken = "rt-5ecret-rotating"
const secrets = [password, clientSecret, refreshToken]

class InvalidGrant extends Schema.TaggedError<InvalidGrant>()("InvalidGrant", { error: Schema.String }) {}

const TokenBody = Schema.Struct({ access_token: Schema.String, expires_in: Schema.Number })

/** A token endpoint that answers 200, or echoes what it was sent in a 418 (a hostile server). */
const app = HttpRouter.empty.pipe(
  HttpRouter.post("/token", HttpServerResponse.json({ access_token: "issued-token", expires_in: 60 })),
  HttpRouter.post("/denied", HttpServerResponse.json({ error: "invalid_grant" }, { status: 400 })),
  HttpRouter.post(
    "/echo",
    Effect.map(HttpServerRequest.HttpServerRequest, (request) => request).pipe(
      Effect.flatMap((request) => request.text),
      Effect.map((body) =>
        HttpServerResponse.text(`you sent ${body} and ${decodeURIComponent(body)}`, { status: 418 })
      ),
      Effect.orDie
    )
  ),
  HttpRouter.post(
    "/echo-token",
    HttpServerResponse.json({ access_token: refreshToken, expires_in: "in a while" })
  ),
  HttpRouter.post("/huge", HttpServerResponse.text("x".repeat(200_000), { status: 200 })),
  // No content-length: the body is streamed and cut off at the limit.
  HttpRouter.post(
    "/huge-stream",
    HttpServerResponse.stream(
      Stream.repeatValue(new TextEncoder().encode("x".repeat(1024))).pipe(Stream.take(200))
    )
  ),
  HttpRouter.post(
    "/html",
    HttpServerResponse.html`<html><body><h1>502 Bad Gateway</h1></body></html>`.pipe(
      Effect.map((response) => HttpServerResponse.setStatus(response, 200))
    )
  ),
  HttpRouter.post("/empty", HttpServerResponse.empty({ status: 200 })),
  HttpRouter.post("/redirect", HttpServerResponse.redirect("https://elsewhere.test/login", { status: 302 }))
)

const setup = (settings: { readonly retry?: RetryPolicy.Options } = {}) =>
  Effect.gen(function*() {
    const server = yield* FakeServer.make(app)
    const client = yield* Endpoint.makeClient({ baseUrl: "https://auth.test", provider: "test" }).pipe(
      Effect.provide(FakeServer.layerClient(server)),
      Effect.provide(
        Endpoint.layerSettings({ maxBodyBytes: 4096, ...settings, retry: { jitter: 0, ...settings.retry } })
      )
    )
    const call = (grant: RetryPolicy.Grant, path = "/token") =>
      client.execute({
        operation: "test.token",
        grant,
        request: HttpClientRequest.post(path).pipe(
          HttpClientRequest.bodyUrlParams({ password, client_secret: clientSecret, refresh_token: refreshToken })
        ),
        responses: {
          200: Endpoint.decode(TokenBody, (body) => Effect.succeed(body.access_token)),
          400: Endpoint.fail(Schema.Struct({ error: Schema.String }), (body) => new InvalidGrant(body))
        },
        secrets: secrets.map((secret) => Redacted.make(secret))
      })
    const attempts = Effect.map(server.requests, (requests) => requests.length)
    return { server, call, attempts } as const
  })

/** Runs `effect` in the background while the test clock moves `millis` forward in small steps. */
const advance = <A, E>(effect: Effect.Effect<A, E>, millis: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.exit(effect))
    for (let elapsed = 0; elapsed < millis; elapsed += 1000) yield* TestClock.adjust(1000)
    return yield* Fiber.join(fiber)
  })

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  if (Exit.isSuccess(exit)) throw new Error("unreachable")
  // A typed failure, never a defect or an interruption.
  const error = Cause.failureOption(exit.cause)
  assert.isTrue(error._tag === "Some", `expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  if (error._tag === "None") throw new Error("unreachable")
  return error.value
}

describe("Endpoint retry", () => {
  it.effect("honours Retry-After in delta-seconds, for single-use grants too", () =>
    Effect.gen(function*() {
      const { attempts, call, server } = yield* setup()
      yield* server.inject(Fault.status(429, { retryAfter: 3 }))
      const fiber = yield* Effect.fork(call("single-use"))
      yield* TestClock.adjust("2999 millis")
      assert.strictEqual(yield* attempts, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "issued-token")
      assert.strictEqual(yield* attempts, 2)
    }))

  it.effect("honours Retry-After as an HTTP-date", () =>
    Effect.gen(function*() {
      const { attempts, call, server } = yield* setup()
      yield* TestClock.setTime(Date.parse("Sun, 22 Nov 2026 12:00:00 GMT"))
      yield* server.inject(Fault.status(503, { retryAfter: "Sun, 22 Nov 2026 12:00:05 GMT" }))
      const fiber = yield* Effect.fork(call("replayable"))
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual(yield* attempts, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "issued-token")
    }))

  it.effect("clamps Retry-After to maxRetryAfter", () =>
    Effect.gen(function*() {
      const { attempts, call, server } = yield* setup({ retry: { maxRetryAfter: "10 seconds", maxElapsed: "1 hour" } })
      yield* server.inject(Fault.status(503, { retryAfter: 3600 }))
      const fiber = yield* Effect.fork(call("single-use"))
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(yield* attempts, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "issued-token")
    }))

  it.effect("retries server errors of replayable grants with exponential backoff", () =>
    Effect.gen(function*() {
      const { attempts, call, server } = yield* setup()
      yield* server.inject(Fault.status(500), Fault.status(502), Fault.status(504))
      const fiber = yield* Effect.fork(call("replayable"))
      // 200 ms, then 400 ms, then 800 ms (jitter off).
      yield* TestClock.adjust("199 millis")
      assert.strictEqual(yield* attempts, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* attempts, 2)
      yield* TestClock.adjust("399 millis")
      assert.strictEqual(yield* attempts, 2)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* attempts, 3)
      yield* TestClock.adjust("800 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "issued-token")
      assert.strictEqual(yield* attempts, 4)
    }))

  it.effect("jitter keeps backoff within [delay * (1 - jitter), delay]", () =>
    Effect.gen(function*() {
      const { attempts, call, server } = yield* setup({ retry: { jitter: 0.5 } })
      yield* server.inject(Fault.status(500))
      const fiber = yield* Effect.fork(call("replayable"))
      yield* TestClock.adjust("99 millis")
      assert.strictEqual(yield* attempts, 1)
      yield* TestClock.adjust("101 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "issued-token")
      assert.strictEqual(yield* attempts, 2)
    }))

  it.effect("never replays a single-use grant after a server error, a reset, a lost response or a timeout", () =>
    Effect.gen(function*() {
      for (
        const [fault, expected] of [
          [Fault.status(500), "UnexpectedStatus"],
          [Fault.status(502, { body: "<html>bad gateway</html>" }), "UnexpectedStatus"],
          [Fault.reset(), "TransportError"],
          [Fault.lostResponse(), "TransportError"],
          [Fault.delay("30 seconds"), "TransportError"]
        ] as const
      ) {
        const { attempts, call, server } = yield* setup()
        yield* server.inject(fault)
        const error = failure(yield* advance(call("single-use"), 40_000))
        assert.strictEqual(error._tag, expected, fault._tag)
        assert.strictEqual(yield* attempts, 1, fault._tag)
        if (error._tag === "TransportError") {
          assert.strictEqual(error.attempts, 1)
          assert.strictEqual(error.reason, fault._tag === "Delay" ? "Timeout" : "Reset")
        }
      }
    }))

  it.effect("replays a replayable grant after a reset, a lost response and a timeout", () =>
    Effect.gen(function*() {
      const { attempts, call, server } = yield* setup()
      yield* server.inject(Fault.reset(), Fault.lostResponse(), Fault.delay("30 seconds"))
      const exit = yield* advance(call("replayable"), 60_000)
      assert.deepStrictEqual(exit, Exit.succeed("issued-token"))
      assert.strictEqual(yield* attempts, 4)
    }))

  it.effect("retries a refused connection for single-use grants: nothing was sent", () =>
    Effect.gen(function*() {
      const { attempts, call, server } = yield* setup()
      yield* server.inject(Fault.refused())
      const exit = yield* advance(call("single-use"), 1000)
      assert.deepStrictEqual(exit, Exit.succeed("issued-token"))
      assert.strictEqual(yield* attempts, 2)
    }))

  it.effect("never retries other 4xx answers", () =>
    Effect.gen(function*() {
      for (const status of [400, 401, 403, 404, 409, 422]) {
        const { attempts, call, server } = yield* setup()
        yield* server.inject(Fault.status(status, { body: "{\"error\":\"invalid_grant\"}" }))
        const error = failure(yield* advance(call("replayable"), 10_000))
        assert.strictEqual(error._tag, status === 400 ? "InvalidGrant" : "UnexpectedStatus")
        assert.strictEqual(yield* attempts, 1, String(status))
      }
    }))

  it.effect("gives up after maxAttempts with the last status", () =>
    Effect.gen(function*() {
      const { attempts, call, server } = yield* setup({ retry: { maxAttempts: 3 } })
      yield* server.inject(...Array.from({ length: 5 }, () => Fault.status(503, { retryAfter: 1, body: "busy" })))
      const error = failure(yield* advance(call("replayable"), 60_000))
      assert.instanceOf(error, AuthError.UnexpectedStatus)
      assert.strictEqual(error.status, 503)
      assert.strictEqual(error.retryAfter, "1")
      assert.strictEqual(error.body, "busy")
      assert.strictEqual(yield* attempts, 3)
    }))

  it.effect("gives up when the next wait would end past maxElapsed", () =>
    Effect.gen(function*() {
      const { attempts, call, server } = yield* setup({ retry: { maxAttempts: 10, maxElapsed: "5 seconds" } })
      yield* server.inject(...Array.from({ length: 5 }, () => Fault.status(429, { retryAfter: 3 })))
      const fiber = yield* Effect.fork(Effect.exit(call("replayable")))
      yield* TestClock.adjust("3 seconds")
      // The second 429 asks for 3 more seconds, which would end at 6 s: the call gives up now.
      const error = failure(yield* Fiber.join(fiber))
      assert.strictEqual(error._tag, "UnexpectedStatus")
      assert.strictEqual(yield* attempts, 2)
    }))

  it.effect("gives up on resets after maxAttempts with a TransportError counting them", () =>
    Effect.gen(function*() {
      const { attempts, call, server } = yield* setup()
      yield* server.inject(Fault.reset(), Fault.reset(), Fault.reset(), Fault.reset(), Fault.reset())
      const error = failure(yield* advance(call("replayable"), 60_000))
      assert.instanceOf(error, AuthError.TransportError)
      assert.strictEqual(error.attempts, 4)
      assert.strictEqual(error.reason, "Reset")
      assert.strictEqual(yield* attempts, 4)
    }))
})

describe("Endpoint attempt timeout", () => {
  it.effect("a hanging attempt fails typed after the timeout, and the caller goes on uninterrupted", () =>
    Effect.gen(function*() {
      const { call, server } = yield* setup({ retry: { maxAttempts: 1 } })
      yield* server.inject(Fault.delay("30 seconds"))
      const fiber = yield* Effect.fork(Effect.gen(function*() {
        const exit = yield* Effect.exit(call("replayable"))
        // The caller is not left interrupted: it can still wait.
        yield* Effect.sleep("1 second")
        return exit
      }))
      yield* TestClock.adjust("9999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      yield* TestClock.adjust("1 second")
      const error = failure(yield* Fiber.join(fiber))
      assert.instanceOf(error, AuthError.TransportError)
      assert.strictEqual(error.reason, "Timeout")
      assert.isTrue(error.mayHaveReachedServer)
    }))

  it.effect("a timeout leaves the caller's own child fibers running", () =>
    Effect.gen(function*() {
      const { call, server } = yield* setup({ retry: { maxAttempts: 1 } })
      yield* server.inject(Fault.delay("30 seconds"))
      const caller = yield* Effect.fork(Effect.gen(function*() {
        const child = yield* Effect.fork(Effect.never)
        const exit = yield* Effect.exit(call("replayable"))
        // Time for an interruption of the child to land; read before the caller ends, which
        // interrupts its children.
        yield* Effect.sleep("1 second")
        return { childRunning: child.unsafePoll() === null, exit }
      }))
      yield* TestClock.adjust("10 seconds")
      yield* TestClock.adjust("1 second")
      const { childRunning, exit } = yield* Fiber.join(caller)
      assert.strictEqual(failure(exit)._tag, "TransportError")
      assert.isTrue(childRunning)
    }))

  it.effect("interrupting the caller during an attempt ends as an interruption, not a timeout", () =>
    Effect.gen(function*() {
      for (const at of [0, 5_000]) {
        const { call, server } = yield* setup({ retry: { maxAttempts: 1 } })
        yield* server.inject(Fault.delay("30 seconds"))
        const fiber = yield* Effect.fork(call("replayable"))
        yield* TestClock.adjust(at)
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit), String(at))
      }
    }))
})

describe("Endpoint against a hostile server", () => {
  it.effect("each malformed answer ends as a typed error, never a defect or a hang", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string, string]> = [
        ["/huge", "MalformedResponse", "exceeds the size limit"],
        ["/huge-stream", "MalformedResponse", "exceeds the size limit"],
        ["/html", "MalformedResponse", "not JSON (content-type text/html"],
        ["/empty", "MalformedResponse", "the body is empty"],
        ["/echo-token", "MalformedResponse", "expires_in has the wrong type"],
        ["/redirect", "UnexpectedStatus", "302"]
      ]
      for (const [path, tag, text] of cases) {
        const { call } = yield* setup()
        const error = failure(yield* advance(call("replayable", path), 1000))
        assert.strictEqual(error._tag, tag, path)
        assert.include(error.message, text, path)
      }
    }))

  it.effect("a documented status with invalid JSON or a missing field is MalformedResponse", () =>
    Effect.gen(function*() {
      const { call, server } = yield* setup()
      yield* server.inject(
        Fault.malformedBody(),
        Fault.malformedBody({ body: "{\"token_type\":\"Bearer\"}" }),
        Fault.malformedBody({ status: 400, body: "[]" })
      )
      const invalid = failure(yield* Effect.exit(call("replayable")))
      assert.deepInclude(invalid, {
        _tag: "MalformedResponse",
        status: 200,
        description: "the body is not JSON (content-type application/json)"
      })
      const missing = failure(yield* Effect.exit(call("replayable")))
      assert.include(missing.message, "access_token is missing")
      const wrongError = failure(yield* Effect.exit(call("replayable")))
      assert.deepInclude(wrongError, { _tag: "MalformedResponse", status: 400 })
    }))

  it.effect("a redirect is returned, not followed", () =>
    Effect.gen(function*() {
      const { attempts, call } = yield* setup()
      const error = failure(yield* Effect.exit(call("replayable", "/redirect")))
      assert.instanceOf(error, AuthError.UnexpectedStatus)
      assert.strictEqual(error.location, "https://elsewhere.test/login")
      assert.strictEqual(yield* attempts, 1)
    }))

  it.effect("a base URL that is not http or https fails when the client is built, naming what is wrong", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make(app)
      for (
        const [baseUrl, why] of [
          ["not a url", "is not an absolute URL"],
          ["ftp://files.example.com", "the scheme must be http or https, not ftp"],
          ["file:///etc/passwd", "the scheme must be http or https, not file"],
          ["javascript:alert(1)", "the scheme must be http or https, not javascript"],
          ["https://user:pw@example.com", "must not carry a user name or password"]
        ]
      ) {
        const error = yield* Effect.flip(
          Endpoint.makeClient({ baseUrl, provider: "test" }).pipe(Effect.provide(FakeServer.layerClient(server)))
        )
        assert.isTrue(ConfigError.isConfigError(error))
        expect(String(error)).toContain("baseUrl")
        expect(String(error)).toContain(why)
        expect(String(error)).not.toContain("pw@")
      }
    }))
})

describe("Endpoint secrets", () => {
  it.effect("no secret the request carried appears in an error or a log line", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ annotations, message }) => logs.push(JSON.stringify({ message, annotations })))
      const errors: Array<unknown> = []
      for (const path of ["/echo", "/echo-token", "/denied"]) {
        const { call } = yield* setup()
        errors.push(failure(yield* Effect.exit(call("single-use", path))))
      }
      for (const fault of [Fault.reset(), Fault.status(503, { body: `busy ${refreshToken}` })]) {
        const { call, server } = yield* setup({ retry: { maxAttempts: 1 } })
        yield* server.inject(fault)
        errors.push(failure(yield* Effect.exit(call("single-use"))))
      }
      yield* Effect.logError("failed", ...errors).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
      assert.strictEqual(errors.length, 5)
      assert.include(String(errors[0]), "<redacted>", "the echo is scrubbed, not dropped")
      for (const printed of [...errors.map(String), ...errors.map((error) => JSON.stringify(error)), ...logs]) {
        for (const secret of secrets) assert.notInclude(printed, secret)
      }
    }))
})

describe("Endpoint types", () => {
  it.effect("the error channel is exactly the table's errors plus the shared ones", () =>
    Effect.gen(function*() {
      const { call } = yield* setup()
      const handled: Effect.Effect<string, never> = call("replayable").pipe(
        Effect.catchTags({
          InvalidGrant: () => Effect.succeed("invalid"),
          TransportError: () => Effect.succeed("transport"),
          UnexpectedStatus: () => Effect.succeed("unexpected"),
          MalformedResponse: () => Effect.succeed("malformed")
        })
      )
      assert.strictEqual(yield* handled, "issued-token")
      call("replayable").pipe(
        // @ts-expect-error the endpoint cannot fail with a tag its table does not name
        Effect.catchTags({ RefreshTokenExpired: () => Effect.succeed("impossible") })
      )
    }))
})

describe("Endpoint span and fiber settings", () => {
  it.effect("a call is an effect-auth.http span under the caller's, parent of the platform's, ended with the call's exit; the caller's context and redacted names are back afterwards", () =>
    Effect.gen(function*() {
      const { call } = yield* setup()
      const namesBefore = yield* FiberRef.get(Headers.currentRedactedNames)
      const { exit, spans } = yield* SpanRecorder.record(
        Effect.gen(function*() {
          const token = yield* call("replayable")
          const denied = yield* Effect.exit(call("replayable", "/denied"))
          return {
            token,
            denied,
            parent: yield* Effect.currentSpan,
            names: yield* FiberRef.get(Headers.currentRedactedNames),
            requestInit: yield* Effect.serviceOption(FetchHttpClient.RequestInit)
          }
        }).pipe(Effect.withSpan("caller"))
      )
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      const { denied, names, parent, requestInit, token } = exit.value
      assert.strictEqual(token, "issued-token")
      assert.isTrue(Exit.isFailure(denied))
      // Back to the caller's: its span, its names (the same list), no `RequestInit` of ours.
      assert.strictEqual(parent.name, "caller")
      assert.strictEqual(names, namesBefore)
      assert.isTrue(Option.isNone(requestInit))

      const caller = spans.find((span) => span.name === "caller")!
      const ours = spans.filter((span) => span.name === "effect-auth.http")
      const http = spans.filter((span) => span.name.startsWith("http.client"))
      assert.strictEqual(ours.length, 2)
      assert.strictEqual(http.length, 2)
      for (const [i, span] of ours.entries()) {
        assert.strictEqual(span.kind, "client")
        assert.strictEqual(Option.getOrUndefined(span.parent)?.spanId, caller.spanId)
        assert.strictEqual(Option.getOrUndefined(http[i].parent)?.spanId, span.spanId)
        assert.strictEqual(span.attributes.get("effect-auth.provider"), "test")
        assert.strictEqual(span.attributes.get("effect-auth.operation"), "test.token")
        assert.strictEqual(span.attributes.get("http.request.method"), "POST")
        assert.strictEqual(span.attributes.get("effect-auth.attempts"), 1)
      }
      assert.strictEqual(ours[0].attributes.get("url.path"), "/token")
      assert.strictEqual(ours[1].attributes.get("url.path"), "/denied")
      assert.strictEqual(ours[0].attributes.get("http.response.status_code"), 200)
      assert.strictEqual(ours[1].attributes.get("http.response.status_code"), 400)
      const [first, second] = ours.map((span) => span.status)
      assert.isTrue(first._tag === "Ended" && Exit.isSuccess(first.exit))
      assert.isTrue(second._tag === "Ended" && Exit.isFailure(second.exit))
    }))

  it.effect("an interrupted call ends its span and leaves the fiber's context and names as they were", () =>
    Effect.gen(function*() {
      const { call, server } = yield* setup({ retry: { maxAttempts: 1 } })
      yield* server.inject(Fault.delay("30 seconds"))
      const namesBefore = yield* FiberRef.get(Headers.currentRedactedNames)
      const contextBefore = yield* Effect.context<never>()
      let after: readonly [ReadonlyArray<string | RegExp>, Context.Context<never>] | undefined
      const { spans } = yield* SpanRecorder.record(
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(
            // Runs on the call's fiber once the call is interrupted.
            Effect.onInterrupt(call("replayable"), () =>
              Effect.map(
                Effect.all([FiberRef.get(Headers.currentRedactedNames), Effect.context<never>()]),
                (settings) => {
                  after = settings
                }
              ))
          )
          yield* TestClock.adjust("1 second")
          yield* Fiber.interrupt(fiber)
        })
      )
      const ours = spans.filter((span) => span.name === "effect-auth.http")
      assert.strictEqual(ours.length, 1)
      assert.isTrue(ours[0].status._tag === "Ended" && Exit.isInterrupted(ours[0].status.exit))
      assert.isDefined(after)
      assert.strictEqual(after![0], namesBefore)
      assert.strictEqual(after![1], contextBefore)
    }))
})
