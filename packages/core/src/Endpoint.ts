/**
 * The one HTTP pipeline every provider endpoint goes through.
 *
 * A provider describes an endpoint as data: its operation name, whether its grant may be
 * replayed, the request, and a table from each documented status to a handler that decodes the
 * success or builds the typed error. The pipeline adds the rest: the base URL, `Accept: JSON`,
 * a timeout per attempt, a cap on the response size, no redirect following, grant-aware retry
 * (see `RetryPolicy`), and the three shared errors. The error type of `execute` is exactly the
 * table's errors plus `TransportError | UnexpectedStatus | MalformedResponse`.
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as AuthError from "./AuthError.js"
import { baseUrlProblem } from "./internal/baseUrl.js"
import { extendWith, lastOf } from "./internal/names.js"
import { timeout, timerFor } from "./internal/timer.js"
import * as RetryPolicy from "./RetryPolicy.js"
import * as Scrubber from "./Scrubber.js"

/**
 * Settings of the pipeline. Defaults: a 10 second timeout per attempt, responses capped at
 * 64 KiB (a token response is well under 4 KiB), and `RetryPolicy.defaults`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly timeout: Duration.Duration
  readonly maxBodyBytes: number
  readonly retry: RetryPolicy.RetryPolicy
}

/**
 * The pipeline settings in effect. A provider client reads them once, when its layer is built,
 * so `layerSettings` provided to a provider layer configures that layer.
 *
 * @since 0.1.0
 * @category context
 */
export class EndpointSettings extends Context.Reference<EndpointSettings>()("@effect-auth/core/EndpointSettings", {
  defaultValue: (): Settings => ({
    timeout: Duration.seconds(10),
    maxBodyBytes: 64 * 1024,
    retry: RetryPolicy.defaults
  })
}) {}

/**
 * A layer that sets the pipeline settings; what it leaves out keeps its default.
 *
 * @example
 * ```ts
 * import * as Endpoint from "@effect-auth/core/Endpoint"
 * import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
 * import * as Layer from "effect/Layer"
 *
 * // Provided to a provider's layer (`OccamAuth.layer().pipe(Layer.provide(Transport))`), its
 * // endpoints time out after 5 seconds per attempt and make at most 2 attempts.
 * export const Transport = Layer.merge(
 *   FetchHttpClient.layer,
 *   Endpoint.layerSettings({ timeout: "5 seconds", retry: { maxAttempts: 2 } })
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSettings = (options: {
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxBodyBytes?: number | undefined
  readonly retry?: RetryPolicy.Options | undefined
}): Layer.Layer<EndpointSettings> => {
  const defaults = EndpointSettings.defaultValue()
  return Layer.succeed(EndpointSettings, {
    timeout: options.timeout === undefined ? defaults.timeout : Duration.decode(options.timeout),
    maxBodyBytes: options.maxBodyBytes ?? defaults.maxBodyBytes,
    retry: RetryPolicy.make(options.retry)
  })
}

/**
 * A response as handlers see it: the body already read (at most `maxBodyBytes`; `oversized`
 * says whether there was more). The handler of an error status (400 and above) sees the body and
 * headers already scrubbed of every secret the request carried (see `Scrubber.fromRequest`).
 *
 * `clockOffset` is how far the server's clock is ahead of ours (Effect's `Clock`), in
 * milliseconds, measured from the `Date` header at receipt: 0 when the two agree within the
 * header's one-second resolution plus latency, and rounded toward the server being further
 * ahead (so a lifetime measured with it errs short); `undefined` when the server sent no usable
 * `Date`. Apply it to absolute times the server wrote (`TokenSet.fromExpiresAt`, `fromJwt`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Response {
  readonly operation: string
  readonly status: number
  readonly headers: Headers.Headers
  readonly body: string
  readonly oversized: boolean
  readonly clockOffset?: number | undefined
}

/**
 * A handler for one status: decodes the success, or builds the typed error.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<A = unknown, E = unknown> = (response: Response) => Effect.Effect<A, E>

/**
 * The status table of an endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export type Responses = { readonly [status: number]: Handler }

/**
 * What an endpoint succeeds with: the union of its handlers' values.
 *
 * @since 0.1.0
 * @category models
 */
export type Success<R extends Responses> = {
  [K in keyof R]: R[K] extends Handler<infer A, infer _E> ? A : never
}[keyof R]

/**
 * What an endpoint's own table fails with: the union of its handlers' errors.
 *
 * @since 0.1.0
 * @category models
 */
export type Failure<R extends Responses> = {
  [K in keyof R]: R[K] extends Handler<infer _A, infer E> ? E : never
}[keyof R]

/**
 * One call of an endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition<R extends Responses> {
  /** The operation name carried by every error and span, such as `"occam.login"`. */
  readonly operation: string
  /** Whether the request may be re-sent after it may have reached the server. */
  readonly grant: RetryPolicy.Grant
  /** The request, with a URL relative to the client's base URL. */
  readonly request: HttpClientRequest.HttpClientRequest
  /** The documented statuses; every other status becomes `UnexpectedStatus`. */
  readonly responses: R
  /**
   * Secrets the request carries in places `Scrubber.fromRequest` cannot tell are secret (a field
   * with an innocent name). Sensitive headers, query parameters and body fields are found
   * without being listed.
   */
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string>> | undefined
}

/**
 * A client bound to one provider's base URL.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly baseUrl: string
  readonly execute: <const R extends Responses>(
    definition: Definition<R>
  ) => Effect.Effect<Success<R>, Failure<R> | AuthError.AuthError>
}

/**
 * A base URL as every provider accepts it: an absolute `http:` or `https:` URL, without a
 * trailing slash. Anything else fails with a `ConfigError` at `path` (such as `["OCCAM_BASE_URL"]`)
 * saying what is wrong, when the layer is built rather than at the first request: `node:http`
 * throws on other schemes, and `fetch` would report a bad scheme as a network failure.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateBaseUrl = (
  baseUrl: string,
  path: ReadonlyArray<string> = ["baseUrl"]
): Effect.Effect<string, ConfigError.ConfigError> => {
  const problem = baseUrlProblem(baseUrl)
  return problem === undefined
    ? Effect.succeed(baseUrl.replace(/\/+$/, ""))
    : Effect.fail(ConfigError.InvalidData([...path], problem))
}

/**
 * A client for one provider over the `HttpClient` in context, with the `EndpointSettings` in
 * context when it is made. Fails when the base URL is not usable (see `validateBaseUrl`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClient = (options: {
  readonly baseUrl: string
  readonly provider: string
}): Effect.Effect<Client, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = yield* validateBaseUrl(options.baseUrl)
    const { maxBodyBytes, retry, timeout: limit } = yield* EndpointSettings
    const httpClient = yield* HttpClient.HttpClient
    // Read once, when the client is made: `fetch` is told not to follow redirects (the other
    // transports never do), on top of whatever `RequestInit` the client was made with.
    const requestInit = Context.make(FetchHttpClient.RequestInit, {
      ...Option.getOrUndefined(yield* Effect.serviceOption(FetchHttpClient.RequestInit)),
      redirect: "manual"
    })
    // A client's calls mostly run in one context: adding the span is then the only copy per call.
    const withRequestInit = lastOf((context: Context.Context<never>) => Context.merge(context, requestInit))
    const timeoutMillis = Duration.toMillis(limit)
    const timeoutFailure = transportFailure("Timeout", `no response within ${Duration.format(limit)}`)
    const timedOut = () => timeoutFailure
    const execute = <const R extends Responses>(
      definition: Definition<R>
    ): Effect.Effect<Success<R>, Failure<R> | AuthError.AuthError> =>
      // Built when it runs: a login effect made up front and kept by an idle session costs one
      // primitive, not the whole pipeline.
      Effect.suspend(() => {
        const { grant, operation } = definition
        // The base URL and `Accept` set on the request itself, once per call rather than per attempt.
        const request = HttpClientRequest.acceptJson(HttpClientRequest.prependUrl(definition.request, baseUrl))
        const invalid = invalidHeader(request.headers)
        const spanOptions: Tracer.SpanOptions = {
          kind: "client",
          captureStackTrace: false,
          attributes: {
            "effect-auth.provider": options.provider,
            "effect-auth.operation": operation,
            "http.request.method": request.method,
            "url.path": definition.request.url
          }
        }
        return traced(spanOptions, withRequestInit, (span, clock) => {
          const startedAt = clock.unsafeCurrentTimeMillis()
          const timer = timerFor(clock)
          let attempts = 0
          // Whether any attempt may have reached the server: what makes a single-use grant spent.
          let reached = false
          const received = Effect.flatMap(
            httpClient.execute(request),
            (response) => {
              // Read once: a transport may build the record anew on every read (undici's does).
              const headers = response.headers
              return readBody(response, headers, maxBodyBytes, (body, oversized): Response => ({
                operation,
                status: response.status,
                headers,
                body,
                oversized,
                clockOffset: clockOffset(headers, clock.unsafeCurrentTimeMillis())
              }))
            }
          )
          // Query parameters of token endpoints can carry secrets (an API key): keep such URLs out
          // of the platform's spans. The `effect-auth.http` span around each call still records it.
          const sent = Effect.matchCauseEffect(
            request.urlParams.length > 0
              ? Effect.locally(received, HttpClient.currentTracerDisabledWhen, () => true)
              : received,
            classified
          )
          // One attempt: sent and read, classified, and a throttle or server-error status made a
          // failure (a candidate for retry), within the attempt timeout.
          const attempt = Effect.suspend((): Effect.Effect<Response, AttemptFailure> => {
            attempts++
            if (invalid !== undefined) return Effect.fail(transportFailure("InvalidRequest", invalid))
            return catchFailure(
              Number.isFinite(timeoutMillis)
                ? timeout(sent, timer, clock.unsafeCurrentTimeMillis() + timeoutMillis, timedOut)
                : sent,
              (failure) => {
                // An answer, a reset or a timeout: the request may have been acted on.
                if (failure._tag === "Status" || failure.reason === "Reset" || failure.reason === "Timeout") {
                  reached = true
                }
                return Effect.fail(failure)
              }
            )
          })
          return Effect.flatMap(
            // The retry schedule is built only once a first attempt failed, and sees that failure
            // as it would have, without sending it again.
            catchFailure(attempt, (first) => {
              if (!RetryPolicy.isRetryable(grant, first) || retry.maxAttempts <= 1) {
                return settle(first, operation, attempts, reached)
              }
              let pending: AttemptFailure | undefined = first
              const again = Effect.suspend(() => {
                const failure = pending
                pending = undefined
                return failure === undefined ? attempt : Effect.fail(failure)
              })
              return catchFailure(
                Effect.retry(again, RetryPolicy.schedule(retry, grant, startedAt)),
                (last) => settle(last, operation, attempts, reached)
              )
            }),
            (response) => {
              span.attribute("http.response.status_code", response.status)
              span.attribute("effect-auth.attempts", attempts)
              return handle(definition, response)
            }
          )
        })
      })
    return { baseUrl, execute }
  })

// -----------------------------------------------------------------------------
// handlers
// -----------------------------------------------------------------------------

/**
 * A handler that decodes a JSON body with `schema` and maps it with `f`. A body that is empty,
 * not JSON, too large or not of the schema ends as `MalformedResponse`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const decode = <A, I, B, E = never>(
  schema: Schema.Schema<A, I, never>,
  f: (body: A, response: Response) => Effect.Effect<B, E>
): Handler<B, E | AuthError.MalformedResponse> =>
(response) => {
  const decoded = decodeBody(response, schema)
  return Either.isRight(decoded) ? f(decoded.right, response) : Effect.fail(decoded.left)
}

/**
 * A handler that decodes a JSON body with `schema` and fails with the error `f` builds from it.
 *
 * @since 0.1.0
 * @category handlers
 */
export const fail = <A, I, E>(
  schema: Schema.Schema<A, I, never>,
  f: (body: A, response: Response) => E
): Handler<never, E | AuthError.MalformedResponse> => decode(schema, (body, response) => Effect.fail(f(body, response)))

/**
 * Decodes a response body as JSON of `schema`. Failures describe where the body is wrong, never
 * the values it holds (a token response that fails to decode still carries tokens).
 *
 * @since 0.1.0
 * @category handlers
 */
export const decodeJson = <A, I>(
  response: Response,
  schema: Schema.Schema<A, I, never>
): Effect.Effect<A, AuthError.MalformedResponse> => decodeBody(response, schema)

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

const malformed = (response: Response, description: string) =>
  Either.left(new AuthError.MalformedResponse({ operation: response.operation, status: response.status, description }))

/**
 * What `decodeJson` does, as an `Either` (which is an effect too): the handlers go on to the
 * provider's function without a step.
 */
const decodeBody = <A, I>(
  response: Response,
  schema: Schema.Schema<A, I, never>
): Either.Either<A, AuthError.MalformedResponse> => {
  if (response.oversized) return malformed(response, "the body exceeds the size limit")
  if (response.body.trim() === "") return malformed(response, "the body is empty")
  let json: unknown
  try {
    json = JSON.parse(response.body)
  } catch {
    const contentType = response.headers["content-type"]
    return malformed(
      response,
      `the body is not JSON${contentType === undefined ? "" : ` (content-type ${contentType})`}`
    )
  }
  const decoded = Schema.decodeUnknownEither(schema, { errors: "all" })(json)
  return Either.isRight(decoded) ? Either.right(decoded.right) : malformed(
    response,
    // A union reports one issue per member, which read the same once values are left out.
    Array.from(
      new Set(
        ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((issue) =>
          `${issue.path.length === 0 ? "the body" : issue.path.join(".")} ${
            issue._tag === "Missing"
              ? "is missing"
              : issue._tag === "Unexpected"
              ? "is not expected"
              : issue._tag === "Type"
              ? "has the wrong type"
              : "is invalid"
          }`
        )
      )
    ).join("; ")
  )
}

const withRedactedNames = extendWith(Scrubber.redactedHeaderNames)

/**
 * Runs `body` in the `effect-auth.http` span (what `Effect.useSpan` does), with the span as the
 * parent of the platform's, the client's `RequestInit` added to the context (by `services`), and
 * every header that can carry a credential recorded as `<redacted>` by the platform's
 * `http.client` span, including a `Location` with a code and a `Set-Cookie` (what
 * `Scrubber.withRedactedHeaders` does). The context and the names are set in one step and
 * restored in one, and the span ends in the same uninterruptible step: a fraction of what
 * `Effect.useSpan` and two `Effect.locally` cost.
 */
const traced = <A, E>(
  options: Tracer.SpanOptions,
  services: (context: Context.Context<never>) => Context.Context<never>,
  body: (span: Tracer.Span, clock: Clock.Clock) => Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.makeSpan("effect-auth.http", options), (span) =>
      Effect.withFiberRuntime((fiber) => {
        const context = fiber.currentContext
        const names = fiber.getFiberRef(Headers.currentRedactedNames)
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        const timing = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
        return Effect.zipRight(
          set(Context.add(services(context), Tracer.ParentSpan, span), withRedactedNames(names)),
          Effect.flatMap(
            Effect.catchAllCause(restore(body(span, clock)), (cause) => {
              end(span, Exit.failCause(cause), clock, timing)
              return Effect.zipRight(set(context, names), Effect.failCause(cause))
            }),
            (value) => {
              end(span, Exit.succeed(value), clock, timing)
              return Effect.as(set(context, names), value)
            }
          )
        )
      }))
  )

/** Ends `span` as `Effect.useSpan` does: once, at the clock's time unless timing is off. */
const end = (span: Tracer.Span, exit: Exit.Exit<unknown, unknown>, clock: Clock.Clock, timing: boolean): void => {
  if (span.status._tag !== "Ended") span.end(timing ? clock.unsafeCurrentTimeNanos() : BigInt(0), exit)
}

/**
 * `Effect.catchAll` in one step: `catchAll` is a match, which costs a step on success too; a
 * failure handler alone costs none. A failure is then handled by `catchAll` itself.
 */
const catchFailure = <A, E, A2, E2>(
  self: Effect.Effect<A, E>,
  f: (error: E) => Effect.Effect<A2, E2>
): Effect.Effect<A | A2, E2> => Effect.catchAllCause(self, (cause) => Effect.catchAll(Effect.failCause(cause), f))

/** `Effect.mapError` in one step, as `catchFailure` is for `Effect.catchAll`. */
const mapFailure = <A, E, E2>(self: Effect.Effect<A, E>, f: (error: E) => E2): Effect.Effect<A, E2> =>
  Effect.catchAllCause(self, (cause) => Effect.mapError(Effect.failCause(cause), f))

/** Sets the fiber's context and redacted header names in one step. */
const set = (context: Context.Context<never>, names: ReadonlyArray<string | RegExp>) =>
  Effect.updateFiberRefs((fiberId, refs) =>
    FiberRefs.updateManyAs(refs, {
      entries: [[FiberRef.currentContext, [[fiberId, context]]], [Headers.currentRedactedNames, [[fiberId, names]]]]
    })
  )

/** A throttle or server-error status, a candidate for retry. */
interface StatusFailure {
  readonly _tag: "Status"
  readonly status: number
  readonly retryAfter: string | undefined
  readonly response: Response
}

/** A transport failure, classified for retry. */
interface TransportFailure {
  readonly _tag: "Transport"
  readonly reason: "Connect" | "Reset" | "Timeout" | "InvalidRequest" | "Closed"
  readonly description: string
}

type AttemptFailure = StatusFailure | TransportFailure

/**
 * How an exchange ends as an attempt: a transport failure classified, and a throttle or
 * server-error status made a failure (a candidate for retry).
 */
const classified = {
  onFailure: (cause: Cause.Cause<HttpClientError.HttpClientError>): Effect.Effect<never, AttemptFailure> => {
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) return Effect.fail(classifyRequestError(failure.value))
    // A transport that throws instead of failing (node:http on a bad scheme) still ends typed.
    const defect = Cause.dieOption(cause)
    return Option.isSome(defect)
      ? Effect.fail(classify(errorCode(defect.value), "the HTTP client failed unexpectedly", false))
      : Effect.failCause(Cause.stripFailures(cause))
  },
  onSuccess: (response: Response): Effect.Effect<Response, AttemptFailure> =>
    !RetryPolicy.isThrottleStatus(response.status) && !RetryPolicy.isServerErrorStatus(response.status)
      ? Effect.succeed(response)
      : Effect.fail({ _tag: "Status", status: response.status, retryAfter: response.headers["retry-after"], response })
}

/** How the last attempt ends the call: a retryable status that outlasted the policy is still an answer. */
const settle = (
  failure: AttemptFailure,
  operation: string,
  attempts: number,
  mayHaveReachedServer: boolean
): Effect.Effect<Response, AuthError.TransportError> =>
  failure._tag === "Status" ? Effect.succeed(failure.response) : Effect.fail(
    new AuthError.TransportError({
      operation,
      reason: failure.reason,
      attempts,
      mayHaveReachedServer,
      description: failure.description
    })
  )

const transportFailure = (reason: TransportFailure["reason"], description: string): TransportFailure => ({
  _tag: "Transport",
  reason,
  description
})

/** The first `code` found along an error's chain of causes. */
const errorCode = (error: unknown): string => {
  let current = error
  for (let depth = 0; depth < 5 && Predicate.isObject(current); depth++) {
    const { cause, code } = current as { readonly cause?: unknown; readonly code?: unknown }
    if (Predicate.isString(code)) return code
    current = cause
  }
  return ""
}

/**
 * Classifies what a transport raised by its error code: a client that was shut down (nothing
 * was sent, nothing will be), a request the transport refused to send (node:http, undici), a
 * connection that was never established (nothing reached the server), or a reset.
 */
const classify = (code: string, fallback: string, sent: boolean): TransportFailure =>
  /^(UND_ERR_(DESTROYED|CLOSED)|ERR_HTTP2_INVALID_SESSION)$/.test(code)
    ? transportFailure("Closed", `the HTTP client was closed (${code}): provide its layer where the service is used`)
    : /^(ERR_(INVALID_(PROTOCOL|CHAR|HTTP_TOKEN|URL)|UNESCAPED_CHARACTERS)|UND_ERR_INVALID_ARG)$/.test(code)
    ? transportFailure("InvalidRequest", `the transport refused the request (${code})`)
    : !sent && /^(E(CONNREFUSED|NOTFOUND|AI_AGAIN|HOSTUNREACH|NETUNREACH)|UND_ERR_CONNECT_TIMEOUT)$/.test(code)
    ? transportFailure("Connect", code)
    : transportFailure("Reset", code || fallback)

const classifyRequestError = (error: HttpClientError.HttpClientError): TransportFailure =>
  error._tag === "RequestError" && error.reason !== "Transport"
    ? transportFailure("InvalidRequest", `the request could not be built (${error.reason})`)
    : error._tag === "ResponseError"
    ? classify(errorCode(error.cause), "the response was cut off", true)
    : classify(errorCode(error.cause), "the connection failed", false)

/**
 * The first header that no transport would send, if any: found before sending, it is an
 * `InvalidRequest` (never sent, never retried) rather than a transport-specific exception. What
 * `node:http` and `fetch` accept is a token name and a Latin-1 value without controls.
 */
const invalidHeader = (headers: Headers.Headers): string | undefined => {
  for (const name in headers) {
    if (!/^[!#$%&'*+\-.^_`|~\w]+$/.test(name) || !/^[\t\x20-\x7e\x80-\xff]*$/.test(headers[name])) {
      return `the header ${
        JSON.stringify(name)
      } has a name or value no transport sends: remove line breaks, controls and non-Latin-1 characters`
    }
  }
}

/**
 * Reads at most `limit` bytes of the body, and whether there was more; an absent body reads as
 * empty. A body that declares a length within the limit is read whole, which costs a fraction of
 * streaming it; any other body is streamed and cut off at the limit.
 */
const readBody = <A>(
  response: HttpClientResponse.HttpClientResponse,
  headers: Headers.Headers,
  limit: number,
  f: (body: string, oversized: boolean) => A
): Effect.Effect<A, HttpClientError.ResponseError> => {
  const declared = Number(headers["content-length"])
  if (Number.isInteger(declared) && declared >= 0 && declared <= limit) {
    return Effect.map(response.text, (body) => f(body, false))
  }
  const decoder = new TextDecoder()
  return response.stream.pipe(
    Stream.runFoldWhile(
      ["", 0] as readonly [string, number],
      ([, size]) => size <= limit,
      ([text, size], chunk): readonly [string, number] => [
        text + decoder.decode(chunk.subarray(0, limit - size), { stream: true }),
        size + chunk.length
      ]
    ),
    Effect.map(([text, size]) => f(text + decoder.decode(), size > limit)),
    Effect.catchIf((error) => error.reason === "EmptyBody", () => Effect.succeed(f("", false)))
  )
}

/** The server's clock minus ours, from the `Date` header (see `Response.clockOffset`). */
const clockOffset = (headers: Headers.Headers, receivedAt: number): number | undefined => {
  const offset = Date.parse(headers["date"]) - receivedAt
  // Within 2 s is agreement: the header has a one-second resolution, and the response took some
  // time to arrive. It is truncated to the second, so the server's clock read up to a second more
  // than it says: taking the later reading makes a lifetime measured with the offset err short.
  return Number.isFinite(offset) ? Math.abs(offset) <= 2000 ? 0 : offset + 1000 : undefined
}

/** The response with its body and header values scrubbed. */
const scrubResponse = (response: Response, scrubber: Scrubber.Scrubber): Response => ({
  ...response,
  body: response.oversized ? scrubber.text(response.body) : scrubber.body(response.body),
  headers: Headers.fromInput(
    Object.entries(response.headers).map(([name, value]): readonly [string, string] => [name, scrubber.text(value)])
  )
})

/** The scrubber of the call's request: built only on the paths that need it. */
const scrubberOf = (definition: Definition<Responses>): Scrubber.Scrubber =>
  Scrubber.fromRequest(definition.request, definition.secrets)

/**
 * Runs the handler of the response's status, or builds `UnexpectedStatus`. Secrets by
 * construction: an error status's handler sees a scrubbed response, and whatever error any
 * handler fails with passes through the request's scrubber before it leaves the pipeline, so a
 * provider cannot forget a field. The scrubber is built only on these error paths.
 */
const handle = <R extends Responses>(
  definition: Definition<R>,
  response: Response
): Effect.Effect<Success<R>, Failure<R> | AuthError.UnexpectedStatus> => {
  const { status } = response
  if (Object.hasOwn(definition.responses, status)) {
    // `Success<R>` and `Failure<R>` are the unions over every handler of the table, so whichever
    // handler the status selects, its value and error belong to them. The compiler cannot index a
    // mapped type by a runtime number, hence the one assertion here.
    const handler = definition.responses[status] as Handler<Success<R>, Failure<R>>
    if (status < 400) {
      return mapFailure(handler(response), (error) => scrubberOf(definition).value(error))
    }
    const scrubber = scrubberOf(definition)
    return mapFailure(handler(scrubResponse(response, scrubber)), (error) => scrubber.value(error))
  }
  const scrubber = scrubberOf(definition)
  const scrubbed = scrubResponse(response, scrubber)
  // A short, single-line excerpt of the scrubbed body.
  const text = scrubbed.body.replace(/\s+/g, " ").trim()
  return Effect.fail(
    new AuthError.UnexpectedStatus({
      operation: definition.operation,
      status,
      body: text.length > 200 || response.oversized ? `${text.slice(0, 200)}...` : text,
      retryAfter: response.headers["retry-after"],
      location: scrubbed.headers["location"]
    })
  )
}
