/**
 * Faults a fake provider can be told to inject into the next matching request: the failures a
 * real token endpoint produces on a bad day.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"

/**
 * Which requests a fault applies to: by default the next request of any path.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  /** Only a request to this path (such as `"/auth/token"`) takes the fault. */
  readonly path?: string | undefined
}

/**
 * A fault. Each is used once, by the first request it targets, in the order injected.
 *
 * - `Status`: answer with this status (and `Retry-After`, and body) without processing.
 * - `Refused`: the connection is refused: nothing reaches the server.
 * - `Reset`: the connection drops before the server processes the request.
 * - `Delay`: the server processes the request after this long.
 * - `MalformedBody`: answer 200 (or `status`) with a body that is not what the endpoint documents.
 * - `LostResponse`: the server processes the request, then the connection drops before the
 *   response arrives: the case where a single-use grant is spent but the client never learns it.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault =
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly retryAfter?: string | undefined
    readonly body?: string | undefined
  } & Target
  | { readonly _tag: "Refused" } & Target
  | { readonly _tag: "Reset" } & Target
  | { readonly _tag: "Delay"; readonly duration: Duration.Duration } & Target
  | {
    readonly _tag: "MalformedBody"
    readonly status: number
    readonly body: string
    readonly contentType: string
  } & Target
  | { readonly _tag: "LostResponse" } & Target

/**
 * Answer with `status` without processing, optionally with a `Retry-After` header (seconds, or
 * an HTTP-date string) and a body.
 *
 * @since 0.1.0
 * @category constructors
 */
export const status = (
  status: number,
  options: { readonly retryAfter?: number | string | undefined; readonly body?: string | undefined } & Target = {}
): Fault => ({
  _tag: "Status",
  status,
  retryAfter: options.retryAfter === undefined ? undefined : String(options.retryAfter),
  body: options.body,
  path: options.path
})

/**
 * Refuse the connection: the request never reaches the server.
 *
 * @since 0.1.0
 * @category constructors
 */
export const refused = (target: Target = {}): Fault => ({ _tag: "Refused", path: target.path })

/**
 * Drop the connection before the server processes the request.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reset = (target: Target = {}): Fault => ({ _tag: "Reset", path: target.path })

/**
 * Process the request only after `duration` (on the fake's clock: `TestClock` in memory).
 *
 * @since 0.1.0
 * @category constructors
 */
export const delay = (duration: Duration.DurationInput, target: Target = {}): Fault => ({
  _tag: "Delay",
  duration: Duration.decode(duration),
  path: target.path
})

/**
 * Answer with a body that does not decode: by default a 200 with truncated JSON.
 *
 * @since 0.1.0
 * @category constructors
 */
export const malformedBody = (
  options: {
    readonly status?: number | undefined
    readonly body?: string | undefined
    readonly contentType?: string | undefined
  } & Target = {}
): Fault => ({
  _tag: "MalformedBody",
  status: options.status ?? 200,
  body: options.body ?? "{\"access_token\": \"",
  contentType: options.contentType ?? "application/json",
  path: options.path
})

/**
 * Process the request, then drop the connection before the response is delivered.
 *
 * @since 0.1.0
 * @category constructors
 */
export const lostResponse = (target: Target = {}): Fault => ({ _tag: "LostResponse", path: target.path })
