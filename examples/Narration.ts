/**
 * How the examples talk: one line per step, tokens shown only as `<redacted>` or as a short
 * fingerprint, concurrent stories printed in order, and a failure printed as its typed error.
 *
 * @since 0.1.0
 */
import type * as TokenSet from "@effect-auth/core/TokenSet"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as ConfigError from "effect/ConfigError"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"

/**
 * A short, stable name for a secret: `#` and the last four hex digits of its SHA-256. Enough to
 * see whether a token changed, useless for recovering it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const fingerprint = (secret: Redacted.Redacted<string> | undefined): string =>
  secret === undefined
    ? "(none)"
    : `#${Crypto.createHash("sha256").update(Redacted.value(secret)).digest("hex").slice(-4)}`

/**
 * A duration in seconds with one decimal (`2.6 s`), or in minutes past two minutes (`15 min`).
 *
 * @since 0.1.0
 * @category formatting
 */
export const duration = (millis: number): string =>
  Math.abs(millis) >= 120_000 ? `${Math.round(millis / 60_000)} min` : `${(millis / 1000).toFixed(1)} s`

/**
 * The line for a call through the authenticated client: `✓` only for a 2xx answer. Anything else
 * (a 404 for a route the API does not have, a 403 for one the account may not call) gets `✗` and
 * says so: the token was sent, but the call did not succeed.
 *
 * @since 0.1.0
 * @category formatting
 */
export const protectedCall = (
  path: string,
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<void, HttpClientError.ResponseError> =>
  Effect.map(response.text, (body) => {
    const ok = response.status >= 200 && response.status < 300
    const line = `protected call: GET ${path} → ${response.status} ${excerpt(body)}`
    console.log(
      ok ? `  ✓ ${line}` : `  ✗ ${line}
    (the API did not answer 2xx: check the route and what this account may call)`
    )
  })

/**
 * When a token set's access token expires, relative to `now`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const expiry = (tokens: TokenSet.TokenSet, now: number): string =>
  tokens.expiresAt === undefined ? "no stated expiry" : `expires in ${duration(tokens.expiresAt - now)}`

/**
 * When a token set's access token expires, as a UTC time and relative to `now`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const expiryAt = (tokens: TokenSet.TokenSet, now: number): string =>
  tokens.expiresAt === undefined
    ? "no stated expiry (renewed when the server answers 401)"
    : `expires ${DateTime.formatIso(DateTime.unsafeMake(tokens.expiresAt))} (in ${duration(tokens.expiresAt - now)})`

/**
 * At most `length` characters of a response body, on one line.
 *
 * @since 0.1.0
 * @category formatting
 */
export const excerpt = (text: string, length = 70): string => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length > length ? `${line.slice(0, length - 1)}…` : line
}

/**
 * Prints a line of a story.
 *
 * @since 0.1.0
 * @category models
 */
export type Say = (line: string) => Effect.Effect<void>

/**
 * Runs one story of an `inOrder` narration, with its own `say`.
 *
 * @since 0.1.0
 * @category models
 */
export type Chapter = <A, E, R>(
  index: number,
  story: (say: Say) => Effect.Effect<A, E, R>
) => Effect.Effect<A, E, R>

/**
 * Prints the lines of concurrent stories in story order: `body` runs each story through
 * `chapter(index, story)` (typically inside one `Effect.all` with unbounded concurrency). The
 * first story's lines appear as they happen; a later story's lines are held until every story
 * before it has ended. So the narration reads like a sequential one and takes as long as the
 * longest story. When a story fails, everything said so far is printed, then the failure is
 * returned.
 *
 * @since 0.1.0
 * @category combinators
 */
export const inOrder = <A, E, R>(
  count: number,
  body: (chapter: Chapter) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const outputs = yield* Effect.forEach(Array.from({ length: count }), () => Queue.unbounded<Option.Option<string>>())
    const end = (output: Queue.Queue<Option.Option<string>>) => Queue.offer(output, Option.none())
    const print = (output: Queue.Queue<Option.Option<string>>) =>
      Queue.take(output).pipe(
        Effect.map(Option.match({
          onNone: () => false,
          onSome: (line) => {
            console.log(line)
            return true
          }
        })),
        Effect.repeat({ while: (more) => more })
      )
    const printer = yield* Effect.fork(Effect.forEach(outputs, print, { discard: true }))
    const chapter: Chapter = (index, story) =>
      story((line) => Queue.offer(outputs[index], Option.some(line))).pipe(Effect.ensuring(end(outputs[index])))
    const exit = yield* Effect.exit(body(chapter))
    // A story that never started (the body failed first) still ends its chapter.
    yield* Effect.forEach(outputs, end, { discard: true })
    yield* Fiber.join(printer)
    return yield* exit
  })

const describeFailure = (error: unknown): string => {
  if (ConfigError.isConfigError(error)) return `configuration: ${String(error)}`
  const tag = Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : "Error"
  const message = Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== ""
    ? error.message
    : String(error)
  return `${tag}: ${message}`
}

/**
 * What a failed run prints: each typed error as `✗ Tag: message` (the errors of this library
 * carry no secret), a defect with its stack, nothing for an interruption (Ctrl-C).
 *
 * @since 0.1.0
 * @category running
 */
export const describeCause = <E>(cause: Cause.Cause<E>): string | undefined => {
  const failures = Chunk.toReadonlyArray(Cause.failures(cause))
  if (failures.length > 0) return failures.map((error) => `✗ ${describeFailure(error)}`).join("\n")
  return Cause.isInterruptedOnly(cause) ? undefined : `✗ ${Cause.pretty(cause)}`
}

/**
 * Runs an example as the program's main effect: exit code 0 on success; on failure the typed
 * error on stderr, readably, and exit code 1.
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = <A, E>(program: Effect.Effect<A, E>): void =>
  program.pipe(
    Effect.tapErrorCause((cause) =>
      Effect.sync(() => {
        const description = describeCause(cause)
        if (description !== undefined) console.error(description)
      })
    ),
    NodeRuntime.runMain({ disableErrorReporting: true })
  )
