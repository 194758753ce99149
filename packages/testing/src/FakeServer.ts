/**
 * The kit every fake provider is built with. A fake is an `HttpApp`; `FakeServer.make` adds a
 * queue of injected faults and a log of the requests received, and serves it in memory as an
 * `HttpClient` (no sockets: the whole exchange runs on the calling fiber, so `TestClock` drives
 * every delay). `NodeFakeServer.serve` puts the same server on a localhost port.
 *
 * Every response carries a `Date` header read from the fake's clock, which is Effect's `Clock`
 * moved by `setClockOffset`: a fake can play a server whose clock is minutes off the client's,
 * with the token times it writes and the `Date` it sends agreeing, as a real server's do.
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type * as Fault from "./Fault.js"

/**
 * A request as the fake received it. The log is for assertions in tests: it holds the raw body,
 * secrets included, exactly as they crossed the wire.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** The fault this request took, if any. */
  readonly fault: Fault.Fault["_tag"] | undefined
}

/**
 * The connection was dropped (`ECONNRESET`) or refused (`ECONNREFUSED`): each transport turns
 * this into what a real one would see.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionDropped extends Data.TaggedError("ConnectionDropped")<{
  readonly code: "ECONNRESET" | "ECONNREFUSED"
}> {}

/**
 * A fake server.
 *
 * @since 0.1.0
 * @category models
 */
export interface FakeServer {
  /** The app with faults and the request log applied; fails only with `ConnectionDropped`. */
  readonly handle: Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    ConnectionDropped,
    HttpServerRequest.HttpServerRequest
  >
  /** An `HttpClient` that delivers every request to this server in memory. */
  readonly client: HttpClient.HttpClient
  /** Queues faults; each is taken once, by the first request it targets. */
  readonly inject: (...faults: ReadonlyArray<Fault.Fault>) => Effect.Effect<void>
  /** The requests received so far, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** Forgets the requests received so far. */
  readonly clearRequests: Effect.Effect<void>
  /**
   * Sets the server's clock this far ahead of Effect's `Clock` (negative: behind). The app reads
   * time from it, and the `Date` header of every response says it. Default: 0.
   */
  readonly setClockOffset: (offset: Duration.DurationInput) => Effect.Effect<void>
}

/**
 * Wraps an app in the fault queue and request log.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(app: HttpApp.Default<E>): Effect.Effect<FakeServer> =>
  Effect.gen(function*() {
    const faults = yield* Ref.make<ReadonlyArray<Fault.Fault>>([])
    const log = yield* Ref.make<ReadonlyArray<RecordedRequest>>([])
    const clockOffset = yield* Ref.make(0)

    const takeFault = (path: string) =>
      Ref.modify(faults, (queue): readonly [Fault.Fault | undefined, ReadonlyArray<Fault.Fault>] => {
        const index = queue.findIndex((fault) => fault.path === undefined || fault.path === path)
        return index === -1 ? [undefined, queue] : [queue[index], queue.filter((_, i) => i !== index)]
      })

    const runApp = app.pipe(
      Effect.catchAllCause((cause) =>
        Effect.succeed(
          HttpServerResponse.text(isRouteNotFound(cause) ? "Not Found" : "Internal Server Error", {
            status: isRouteNotFound(cause) ? 404 : 500
          })
        )
      )
    )

    const handle = Effect.gen(function*() {
      const offset = yield* Ref.get(clockOffset)
      const clock = skewed(yield* Effect.clock, offset)
      const response = yield* Effect.withClock(respond, clock)
      return response.headers["date"] === undefined
        ? HttpServerResponse.setHeader(response, "date", httpDate(clock.unsafeCurrentTimeMillis()))
        : response
    })

    const respond = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const body = yield* Effect.orElseSucceed(request.text, () => "")
      const url = new URL(request.url, "http://fake.invalid")
      const fault = yield* takeFault(url.pathname)
      yield* Ref.update(log, (entries) => [...entries, {
        method: request.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { ...request.headers },
        body,
        fault: fault?._tag
      }])
      switch (fault?._tag) {
        case undefined:
          return yield* runApp
        case "Status": {
          const headers = fault.retryAfter === undefined ? {} : { "retry-after": fault.retryAfter }
          // A body on a 204 or 304 is invalid HTTP, so those (and any fault without a body) answer empty.
          return fault.body === undefined
            ? HttpServerResponse.empty({ status: fault.status, headers })
            : HttpServerResponse.text(fault.body, { status: fault.status, headers })
        }
        case "Refused":
          return yield* new ConnectionDropped({ code: "ECONNREFUSED" })
        case "Reset":
          return yield* new ConnectionDropped({ code: "ECONNRESET" })
        case "Delay":
          yield* Effect.sleep(fault.duration)
          return yield* runApp
        case "MalformedBody":
          return HttpServerResponse.text(fault.body, { status: fault.status, contentType: fault.contentType })
        case "LostResponse":
          yield* runApp
          return yield* new ConnectionDropped({ code: "ECONNRESET" })
      }
    }).pipe(Effect.scoped)

    const client = HttpClient.make((request, url) =>
      Effect.gen(function*() {
        const body = yield* requestBody(request)
        const webRequest = new Request(url, { method: request.method, headers: request.headers, body })
        const response = yield* handle.pipe(
          Effect.provideService(HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(webRequest)),
          Effect.mapError((dropped) =>
            new HttpClientError.RequestError({
              request,
              reason: "Transport",
              cause: Object.assign(new Error(`socket hang up (${dropped.code})`), { code: dropped.code })
            })
          )
        )
        return HttpClientResponse.fromWeb(request, HttpServerResponse.toWeb(response))
      })
    )

    return {
      handle,
      client,
      inject: (...injected) => Ref.update(faults, (queue) => [...queue, ...injected]),
      requests: Ref.get(log),
      clearRequests: Ref.set(log, []),
      setClockOffset: (offset) => Ref.set(clockOffset, Duration.toMillis(Duration.decode(offset)))
    }
  })

/**
 * The server's in-memory `HttpClient` as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (server: FakeServer): Layer.Layer<HttpClient.HttpClient> =>
  Layer.succeed(HttpClient.HttpClient, server.client)

/** `clock` moved `offset` milliseconds; sleeping is left to `clock`. */
const skewed = (clock: Clock.Clock, offset: number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis() + offset,
  unsafeCurrentTimeNanos: () => clock.unsafeCurrentTimeNanos() + BigInt(offset * 1_000_000),
  currentTimeMillis: Effect.map(clock.currentTimeMillis, (millis) => millis + offset),
  currentTimeNanos: Effect.map(clock.currentTimeNanos, (nanos) => nanos + BigInt(offset * 1_000_000)),
  sleep: (duration) => clock.sleep(duration)
})

/** An HTTP-date (RFC 9110 section 5.6.7), as servers write `Date`. */
const httpDate = (millis: number): string => DateTime.toDateUtc(DateTime.unsafeMake(millis)).toUTCString()

const isRouteNotFound = (cause: unknown): boolean => String(cause).includes("RouteNotFound")

/** The bytes of an outgoing request body, as `fetch` would send them. */
const requestBody = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<BodyInit | null, HttpClientError.RequestError> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(null)
    case "Uint8Array":
      return Effect.succeed(new Uint8Array(body.body))
    case "FormData":
      return Effect.succeed(body.formData)
    case "Raw":
      return Effect.succeed(
        typeof body.body === "string" ? body.body : body.body instanceof Uint8Array ? new Uint8Array(body.body) : null
      )
    case "Stream":
      return body.stream.pipe(
        Stream.runCollect,
        Effect.map((chunks) => {
          const all = Chunk.toReadonlyArray(chunks)
          const bytes = new Uint8Array(all.reduce((size, chunk) => size + chunk.length, 0))
          all.reduce((offset, chunk) => (bytes.set(chunk, offset), offset + chunk.length), 0)
          return bytes
        }),
        Effect.mapError((cause) => new HttpClientError.RequestError({ request, reason: "Encode", cause }))
      )
  }
}
