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
import * as Chunk from "effect/Chunk"
import type * as Clock from "effect/Clock"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
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
import { timeout, type Timer, timerFor } from "./internal/timer.js"
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
    const settings = yield* EndpointSettings
    const httpClient = yield* HttpClient.HttpClient
    // Read once, when the client is made: `fetch` is told not to follow redirects (the other
    // transports never do), on top of whatever `RequestInit` the client was made with.
    const requestInit: globalThis.RequestInit = {
      ...Option.getOrUndefined(yield* Effect.serviceOption(FetchHttpClient.RequestInit)),
      redirect: "manual"
    }
    const client: Pipeline = {
      httpClient,
      settings,
      provider: options.provider,
      baseUrl,
      timeoutMillis: Duration.toMillis(settings.timeout),
      onTimeout: () =>
        new TransportFailure({
          reason: "Timeout",
          description: `no response within ${Duration.format(settings.timeout)}`
        }),
      requestInit
    }
    const execute = <const R extends Responses>(
      definition: Definition<R>
    ): Effect.Effect<Success<R>, Failure<R> | AuthError.AuthError> => run(client, definition)
    return { baseUrl, execute }
  })

/** What every call of one client shares, made once with the client. */
interface Pipeline {
  readonly httpClient: HttpClient.HttpClient
  readonly settings: Settings
  readonly provider: string
  readonly baseUrl: string
  readonly timeoutMillis: number
  readonly onTimeout: () => TransportFailure
  readonly requestInit: globalThis.RequestInit
}

/**
 * One call: the attempts under the retry policy (its schedule is built only after a first
 * attempt failed), in the `effect-auth.http` span, with credential headers redacted in the
 * platform's spans, then the status table.
 */
const run = <R extends Responses>(
  client: Pipeline,
  definition: Definition<R>
): Effect.Effect<Success<R>, Failure<R> | AuthError.AuthError> => {
  // The base URL and `Accept` set on the request itself, once per call rather than per attempt.
  const request = HttpClientRequest.acceptJson(HttpClientRequest.prependUrl(definition.request, client.baseUrl))
  return Effect.useSpan("effect-auth.http", {
    kind: "client",
    captureStackTrace: false,
    attributes: {
      "effect-auth.provider": client.provider,
      "effect-auth.operation": definition.operation,
      "http.request.method": definition.request.method,
      "url.path": definition.request.url
    }
  }, (span) =>
    Effect.clockWith((clock) => {
      const startedAt = clock.unsafeCurrentTimeMillis()
      const timer = timerFor(clock)
      let attempts = 0
      // Whether any attempt may have reached the server: what makes a single-use grant spent.
      let reached = false
      const attempt = Effect.mapError(
        Effect.suspend(() => {
          attempts++
          return sendOnce(client, definition, request, timer, clock)
        }),
        (failure) => {
          if (failure._tag === "Status" || failure.reason === "Reset" || failure.reason === "Timeout") reached = true
          return failure
        }
      )
      // A retryable status that outlasted the policy is still an answer: the table decides.
      const settle = (failure: AttemptFailure): Effect.Effect<Response, AuthError.TransportError> =>
        failure._tag === "Status" ? Effect.succeed(failure.response) : Effect.fail(
          new AuthError.TransportError({
            operation: definition.operation,
            reason: failure.reason,
            attempts,
            mayHaveReachedServer: reached,
            description: failure.description
          })
        )
      const sent = Effect.catchAll(attempt, (first) => {
        if (!RetryPolicy.isRetryable(definition.grant, first) || client.settings.retry.maxAttempts <= 1) {
          return settle(first)
        }
        // The schedule sees the first failure as it would have, without sending it again.
        let pending: AttemptFailure | undefined = first
        const again = Effect.suspend(() => {
          const failure = pending
          pending = undefined
          return failure === undefined ? attempt : Effect.fail(failure)
        })
        return Effect.catchAll(
          Effect.retry(again, RetryPolicy.schedule<AttemptFailure>(client.settings.retry, definition.grant, startedAt)),
          settle
        )
      })
      return Effect.flatMap(sent, (response) => {
        span.attribute("http.response.status_code", response.status)
        span.attribute("effect-auth.attempts", attempts)
        const offset = clockOffset(response.headers, clock.unsafeCurrentTimeMillis())
        return handle(definition, { ...response, clockOffset: offset })
      })
    }).pipe(
      // Every header that can carry a credential is recorded as `<redacted>` by the platform's
      // `http.client` span, including a `Location` with a code and a `Set-Cookie`.
      Scrubber.withRedactedHeaders,
      // The span as the parent of the platform's, and `RequestInit`, in one copy of the context.
      Effect.mapInputContext((context: Context.Context<never>) =>
        Context.merge(
          context,
          Context.make(Tracer.ParentSpan, span).pipe(Context.add(FetchHttpClient.RequestInit, client.requestInit))
        )
      )
    ))
}

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
(response) => Effect.flatMap(decodeJson(response, schema), (body) => f(body, response))

/**
 * A handler that decodes a JSON body with `schema` and fails with the error `f` builds from it.
 *
 * @since 0.1.0
 * @category handlers
 */
export const fail = <A, I, E>(
  schema: Schema.Schema<A, I, never>,
  f: (body: A, response: Response) => E
): Handler<never, E | AuthError.MalformedResponse> =>
(response) => Effect.flatMap(decodeJson(response, schema), (body) => Effect.fail(f(body, response)))

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
): Effect.Effect<A, AuthError.MalformedResponse> => {
  const malformed = (description: string) =>
    Effect.fail(
      new AuthError.MalformedResponse({ operation: response.operation, status: response.status, description })
    )
  if (response.oversized) return malformed("the body exceeds the size limit")
  if (response.body.trim() === "") return malformed("the body is empty")
  let json: unknown
  try {
    json = JSON.parse(response.body)
  } catch {
    const contentType = response.headers["content-type"]
    return malformed(`the body is not JSON${contentType === undefined ? "" : ` (content-type ${contentType})`}`)
  }
  return Either.match(Schema.decodeUnknownEither(schema, { errors: "all" })(json), {
    onLeft: (error) => malformed(describeParseError(error)),
    onRight: Effect.succeed
  })
}

const issuePhrase: Record<ParseResult.ArrayFormatterIssue["_tag"], string> = {
  Missing: "is missing",
  Unexpected: "is not expected",
  Type: "has the wrong type",
  Forbidden: "is invalid",
  Pointer: "is invalid",
  Refinement: "is invalid",
  Transformation: "is invalid",
  Composite: "is invalid"
}

const describeParseError = (error: ParseResult.ParseError): string => {
  const lines = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
    `${issue.path.length === 0 ? "the body" : issue.path.join(".")} ${issuePhrase[issue._tag]}`
  )
  // A union reports one issue per member, which read the same once values are left out.
  return Array.from(new Set(lines)).join("; ")
}

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

/** A throttle or server-error status, a candidate for retry. */
class StatusFailure extends Data.TaggedError("Status")<{
  readonly status: number
  readonly retryAfter: string | undefined
  readonly response: Response
}> {}

/** A transport failure, classified for retry. */
class TransportFailure extends Data.TaggedError("Transport")<{
  readonly reason: "Connect" | "Reset" | "Timeout" | "InvalidRequest" | "Closed"
  readonly description: string
}> {}

type AttemptFailure = StatusFailure | TransportFailure

/** Error codes of a connection that was never established: nothing reached the server. */
const connectCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT"
])

/** Error codes of a client that was shut down: nothing was sent, and nothing will be. */
const closedCodes = new Set(["UND_ERR_DESTROYED", "UND_ERR_CLOSED", "ERR_HTTP2_INVALID_SESSION"])

/** Error codes of a request the transport refused to send (node:http, undici). */
const invalidRequestCodes = new Set([
  "ERR_INVALID_PROTOCOL",
  "ERR_INVALID_CHAR",
  "ERR_INVALID_HTTP_TOKEN",
  "ERR_INVALID_URL",
  "ERR_UNESCAPED_CHARACTERS",
  "UND_ERR_INVALID_ARG"
])

/** The first `code` found along an error's chain of causes. */
const errorCode = (error: unknown): string | undefined => {
  let current = error
  for (let depth = 0; depth < 5 && Predicate.isObject(current); depth++) {
    if (Predicate.hasProperty(current, "code") && Predicate.isString(current.code)) return current.code
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return undefined
}

/** Classifies what a transport raised (an error, or a defect it threw) by its code. */
const classifyCode = (code: string | undefined, fallback: string, sent: boolean): TransportFailure => {
  if (code !== undefined && closedCodes.has(code)) {
    return new TransportFailure({
      reason: "Closed",
      description: `the HTTP client was closed (${code}): provide its layer where the service is used`
    })
  }
  if (code !== undefined && invalidRequestCodes.has(code)) {
    return new TransportFailure({
      reason: "InvalidRequest",
      description: `the transport refused the request (${code})`
    })
  }
  if (!sent && code !== undefined && connectCodes.has(code)) {
    return new TransportFailure({ reason: "Connect", description: code })
  }
  return new TransportFailure({ reason: "Reset", description: code ?? fallback })
}

const classifyRequestError = (error: HttpClientError.HttpClientError): TransportFailure => {
  if (error._tag === "RequestError" && error.reason !== "Transport") {
    return new TransportFailure({
      reason: "InvalidRequest",
      description: `the request could not be built (${error.reason})`
    })
  }
  return classifyCode(
    errorCode(error.cause),
    error._tag === "ResponseError" ? "the response was cut off" : "the connection failed",
    error._tag === "ResponseError"
  )
}

/** A transport that throws instead of failing (node:http on a bad scheme) still ends typed. */
const classifyDefect = (defect: unknown): TransportFailure =>
  classifyCode(errorCode(defect), "the HTTP client failed unexpectedly", false)

/** What `node:http` and `fetch` accept in a header: a token name, Latin-1 without controls. */
const headerName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const headerValue = /^[\t\x20-\x7e\x80-\xff]*$/

/**
 * The first header that no transport would send, if any: found before sending, it is an
 * `InvalidRequest` (never sent, never retried) rather than a transport-specific exception.
 */
const invalidHeader = (headers: Headers.Headers): string | undefined => {
  for (const name of Object.keys(headers)) {
    if (!headerName.test(name)) return `the header name ${JSON.stringify(name)} is not a valid token`
    if (!headerValue.test(headers[name])) {
      return `the value of header ${name} contains a line break, a control or a non-Latin-1 character`
    }
  }
  return undefined
}

/**
 * Sends the request once and reads the body, within the attempt timeout (one forked fiber and an
 * entry in the shared timer, not `Effect.timeout`'s race). Redirects are not followed: `fetch` is
 * told so, and the other transports never follow them.
 */
const sendOnce = (
  client: Pipeline,
  definition: Definition<Responses>,
  request: HttpClientRequest.HttpClientRequest,
  timer: Timer,
  clock: Clock.Clock
): Effect.Effect<Response, AttemptFailure> => {
  const invalid = invalidHeader(definition.request.headers)
  if (invalid !== undefined) {
    return Effect.fail(new TransportFailure({ reason: "InvalidRequest", description: invalid }))
  }
  const received = Effect.flatMap(
    client.httpClient.execute(request),
    (response) =>
      Effect.map(readBody(response, client.settings.maxBodyBytes), (body): Response => ({
        operation: definition.operation,
        status: response.status,
        headers: response.headers,
        ...body
      }))
  )
  // Query parameters of token endpoints can carry secrets (an API key): keep such URLs out of
  // the platform's spans. The `effect-auth.http` span around each call still records it.
  const send = request.urlParams.length > 0
    ? Effect.locally(received, HttpClient.currentTracerDisabledWhen, () => true)
    : received
  const classified = Effect.catchAllCause(send, (cause): Effect.Effect<never, TransportFailure> => {
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) return Effect.fail(classifyRequestError(failure.value))
    const defect = Cause.dieOption(cause)
    return Option.isSome(defect)
      ? Effect.fail(classifyDefect(defect.value))
      : Effect.failCause(Cause.stripFailures(cause))
  })
  const timed = Number.isFinite(client.timeoutMillis)
    ? timeout(classified, timer, clock.unsafeCurrentTimeMillis() + client.timeoutMillis, client.onTimeout)
    : classified
  return Effect.flatMap(
    timed,
    (response) =>
      RetryPolicy.isThrottleStatus(response.status) || RetryPolicy.isServerErrorStatus(response.status)
        ? Effect.fail(
          new StatusFailure({ status: response.status, retryAfter: response.headers["retry-after"], response })
        )
        : Effect.succeed(response)
  )
}

/**
 * Reads at most `limit` bytes of the body; an absent body reads as empty. A body that declares a
 * length within the limit is read whole, which costs a fraction of streaming it; any other body is
 * streamed and cut off at the limit.
 */
const readBody = (
  response: HttpClientResponse.HttpClientResponse,
  limit: number
): Effect.Effect<{ readonly body: string; readonly oversized: boolean }, HttpClientError.ResponseError> => {
  const declared = Number(response.headers["content-length"])
  if (Number.isInteger(declared) && declared >= 0 && declared <= limit) {
    return Effect.map(response.text, (body) => ({ body, oversized: false }))
  }
  return readBodyStream(response, limit)
}

const readBodyStream = (
  response: HttpClientResponse.HttpClientResponse,
  limit: number
): Effect.Effect<{ readonly body: string; readonly oversized: boolean }, HttpClientError.ResponseError> =>
  response.stream.pipe(
    Stream.runFoldWhile(
      { chunks: Chunk.empty<Uint8Array>(), size: 0 },
      (state) => state.size <= limit,
      (state, chunk) => ({ chunks: Chunk.append(state.chunks, chunk), size: state.size + chunk.length })
    ),
    Effect.map((state) => {
      const bytes = new Uint8Array(Math.min(state.size, limit))
      let offset = 0
      for (const chunk of state.chunks) {
        const part = chunk.subarray(0, bytes.length - offset)
        bytes.set(part, offset)
        offset += part.length
      }
      return { body: new TextDecoder().decode(bytes), oversized: state.size > limit }
    }),
    Effect.catchIf(
      (error) => error.reason === "EmptyBody",
      () => Effect.succeed({ body: "", oversized: false })
    )
  )

/** The longest body excerpt an `UnexpectedStatus` carries. */
const excerptLength = 200

/** A short, single-line excerpt of an already scrubbed body. */
const excerpt = (response: Response): string => {
  const text = response.body.replace(/\s+/g, " ").trim()
  return text.length > excerptLength || response.oversized ? `${text.slice(0, excerptLength)}...` : text
}

/**
 * Offsets within this many milliseconds are read as agreement: the `Date` header has a
 * one-second resolution, and the response took some time to arrive.
 */
const clockTolerance = 2000

/** The server's clock minus ours, from the `Date` header (see `Response.clockOffset`). */
const clockOffset = (headers: Headers.Headers, receivedAt: number): number | undefined => {
  const date = headers["date"]
  if (date === undefined) return undefined
  const serverTime = Date.parse(date)
  if (!Number.isFinite(serverTime)) return undefined
  const offset = serverTime - receivedAt
  // The header is truncated to the second: the server's clock read up to a second more than it
  // says. Taking the later reading makes a lifetime measured with the offset err short.
  return Math.abs(offset) <= clockTolerance ? 0 : offset + 1000
}

/** The response with its body and header values scrubbed. */
const scrubResponse = (response: Response, scrubber: Scrubber.Scrubber): Response => ({
  ...response,
  body: response.oversized ? scrubber.text(response.body) : scrubber.body(response.body),
  headers: Headers.fromInput(
    Object.entries(response.headers).map(([name, value]): readonly [string, string] => [name, scrubber.text(value)])
  )
})

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
  let cached: Scrubber.Scrubber | undefined
  const scrubber = () => cached ??= Scrubber.fromRequest(definition.request, definition.secrets)
  if (Object.hasOwn(definition.responses, response.status)) {
    const seen = response.status >= 400 ? scrubResponse(response, scrubber()) : response
    // `Success<R>` and `Failure<R>` are the unions over every handler of the table, so whichever
    // handler the status selects, its value and error belong to them. The compiler cannot index a
    // mapped type by a runtime number, hence the one assertion here.
    const handled = definition.responses[response.status](seen) as Effect.Effect<Success<R>, Failure<R>>
    return Effect.mapError(handled, (error) => scrubber().value(error))
  }
  const scrubbed = scrubResponse(response, scrubber())
  return Effect.fail(
    new AuthError.UnexpectedStatus({
      operation: definition.operation,
      status: response.status,
      body: excerpt(scrubbed),
      retryAfter: response.headers["retry-after"],
      location: scrubbed.headers["location"]
    })
  )
}
