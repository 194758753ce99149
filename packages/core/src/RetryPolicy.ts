/**
 * Grant-aware retry, written as a `Schedule`.
 *
 * What may be re-sent depends on what a request spends. A password or API-key login can be sent
 * again at no cost; an authorization code or a rotating refresh token is spent the moment the
 * server processes it, so re-sending it after a lost response only earns an `invalid_grant` (and
 * with reuse detection, a revoked token family). The rules:
 *
 * - 429 and 503 are retried for every operation: the server says it did not process the request.
 *   `Retry-After` (delta-seconds or HTTP-date) is honoured, clamped to `maxRetryAfter`.
 * - A connection that was never established is retried for every operation: nothing was sent.
 * - 408, 500, 502, 504, a reset connection and a timeout are retried only for `replayable`
 *   operations: the server may have processed the request.
 * - Every other status is an answer and is never retried.
 * - Backoff is exponential with jitter, bounded by `maxAttempts` and by `maxElapsed`; a wait that
 *   would end past `maxElapsed` is not started.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleInterval from "effect/ScheduleInterval"

/**
 * How an operation may be retried: `replayable` requests cost nothing to send again (password,
 * API-key and client-credential logins, revocation); `single-use` requests spend a grant
 * (an authorization code, a rotating refresh token) and are never re-sent once they may have
 * reached the server.
 *
 * @since 0.1.0
 * @category models
 */
export type Grant = "replayable" | "single-use"

/**
 * The retry settings. Defaults (see `defaults`): 4 attempts, at most 30 seconds in all, backoff
 * from 200 ms doubling to at most 5 s with 50% jitter, `Retry-After` honoured up to 30 s.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. 1 disables retries. */
  readonly maxAttempts: number
  /** No retry waits past this much time after the first attempt started. */
  readonly maxElapsed: Duration.Duration
  /** The first backoff delay. */
  readonly baseDelay: Duration.Duration
  /** The factor each further backoff delay grows by. */
  readonly factor: number
  /** The largest backoff delay. */
  readonly maxDelay: Duration.Duration
  /** The longest `Retry-After` honoured; a longer one is clamped to this. */
  readonly maxRetryAfter: Duration.Duration
  /** The share of each backoff delay that is randomised, from 0 (none) to 1 (full jitter). */
  readonly jitter: number
}

/**
 * The default policy.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: RetryPolicy = {
  maxAttempts: 4,
  maxElapsed: Duration.seconds(30),
  baseDelay: Duration.millis(200),
  factor: 2,
  maxDelay: Duration.seconds(5),
  maxRetryAfter: Duration.seconds(30),
  jitter: 0.5
}

/**
 * Settings as a user writes them: any subset, durations in any `DurationInput` form.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly maxAttempts?: number | undefined
  readonly maxElapsed?: Duration.DurationInput | undefined
  readonly baseDelay?: Duration.DurationInput | undefined
  readonly factor?: number | undefined
  readonly maxDelay?: Duration.DurationInput | undefined
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  readonly jitter?: number | undefined
}

/**
 * A policy from options, the defaults filling what they leave out.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}, base: RetryPolicy = defaults): RetryPolicy => {
  const policy: Record<string, unknown> = { ...base }
  for (const key in base) {
    const value = options[key as keyof Options]
    // The numbers are taken as they are, everything else is a duration.
    if (value !== undefined) policy[key] = typeof value === "number" ? value : Duration.decode(value)
  }
  return {
    ...policy as unknown as RetryPolicy,
    maxAttempts: Math.max(1, Math.floor(policy.maxAttempts as number)),
    jitter: Math.min(1, Math.max(0, policy.jitter as number))
  }
}

/**
 * What went wrong with one attempt, as far as retrying is concerned: a status the server
 * answered with (and its `Retry-After`), or a transport failure: `Connect` (nothing was sent),
 * `Reset` (the connection dropped once the request may have been sent), `Timeout`,
 * `InvalidRequest` (the request could not be built, so sending it again cannot help), or
 * `Closed` (the `HttpClient` was shut down, and stays so).
 *
 * @since 0.1.0
 * @category models
 */
export type Signal =
  | { readonly _tag: "Status"; readonly status: number; readonly retryAfter: string | undefined }
  | { readonly _tag: "Transport"; readonly reason: "Connect" | "Reset" | "Timeout" | "InvalidRequest" | "Closed" }

/**
 * Statuses that mean "not processed, come back later": retried for every grant.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isThrottleStatus = (status: number): boolean => status === 429 || status === 503

/**
 * Statuses that may be transient but may also follow processing: retried for replayable grants.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isServerErrorStatus = (status: number): boolean => [408, 500, 502, 504].includes(status)

/**
 * Whether a failed attempt may be sent again under the given grant.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryable = (grant: Grant, signal: Signal): boolean =>
  signal._tag === "Status"
    ? isThrottleStatus(signal.status) || (grant === "replayable" && isServerErrorStatus(signal.status))
    : signal.reason === "Connect" || (grant === "replayable" && /^(Reset|Timeout)$/.test(signal.reason))

/**
 * A `Retry-After` header as a delay in milliseconds from `now`: delta-seconds or an HTTP-date.
 * `undefined` when absent or unreadable, in which case backoff applies.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  const trimmed = value?.trim() ?? ""
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  // An HTTP-date always names its weekday and month; without letters, `Date.parse` would read
  // "-5" as the year -5.
  const date = /[A-Za-z]/.test(trimmed) ? Date.parse(trimmed) : NaN
  return isNaN(date) ? undefined : Math.max(0, date - now)
}

/**
 * The retry schedule for one call started at `startedAt` (epoch ms, from `Clock`). Its input is
 * the `Signal` of each failed attempt; it stops on a signal the grant may not retry, after
 * `maxAttempts`, or when the next wait would end past `maxElapsed`. Its output is the delay taken.
 *
 * @since 0.1.0
 * @category schedules
 */
export const schedule = <In extends Signal>(
  policy: RetryPolicy,
  grant: Grant,
  startedAt: number
): Schedule.Schedule<Duration.Duration, In> =>
  Schedule.makeWithState<number, In, Duration.Duration>(0, (now, signal, retries) => {
    const [maxDelay, baseDelay, maxRetryAfter, maxElapsed] = [
      policy.maxDelay,
      policy.baseDelay,
      policy.maxRetryAfter,
      policy.maxElapsed
    ].map(Duration.toMillis)
    const stop = Effect.succeed([retries, Duration.zero, ScheduleDecision.done] as const)
    if (!isRetryable(grant, signal) || retries + 1 >= policy.maxAttempts) return stop
    const retryAfter = signal._tag === "Status" ? parseRetryAfter(signal.retryAfter, now) : undefined
    return Effect.flatMap(
      retryAfter === undefined
        // The jittered exponential backoff.
        ? Effect.map(Random.next, (random) =>
          Math.round(
            Math.min(maxDelay, baseDelay * policy.factor ** retries) * (1 - policy.jitter * random)
          ))
        : Effect.succeed(Math.min(retryAfter, maxRetryAfter)),
      (delay) =>
        now + delay - startedAt > maxElapsed ? stop : Effect.succeed(
          [
            retries + 1,
            Duration.millis(delay),
            ScheduleDecision.continueWith(ScheduleInterval.after(now + delay))
          ] as const
        )
    )
  })
