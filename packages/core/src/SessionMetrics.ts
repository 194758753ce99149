/**
 * Metrics of every session: logins, refreshes, failures, store writes that failed and callers
 * that joined a request in flight, each tagged with the session's `provider`.
 *
 * Sessions count nothing by themselves: provide `layer` where they are built to turn the
 * counters on. An application that never imports this module ships none of it.
 *
 * ```ts
 * OccamSession.layer({ credentials }).pipe(Layer.provide(SessionMetrics.layer))
 * ```
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as AuthSession from "./AuthSession.js"

const counter = (name: string, description: string): Metric.Metric.Counter<number> =>
  Metric.counter(`effect-auth.${name}`, { description, incremental: true })

/**
 * Logins sessions performed, tagged with `provider`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const logins: Metric.Metric.Counter<number> = counter("logins", "Logins performed by sessions")

/**
 * Refresh requests sessions sent, tagged with `provider`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const refreshes: Metric.Metric.Counter<number> = counter("refreshes", "Refresh requests sent by sessions")

/**
 * Failed logins, refreshes and revokes, tagged with `provider`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const failures: Metric.Metric.Counter<number> = counter("failures", "Failed logins, refreshes and revokes")

/**
 * Store writes that failed and are being retried in the background, tagged with `provider`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const storeWriteFailures: Metric.Metric.Counter<number> = counter(
  "store_write_failures",
  "Token store writes that failed (retried until they succeed or the session closes)"
)

/**
 * Callers that joined a login or refresh already in flight instead of sending their own,
 * tagged with `provider`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const singleFlightJoins: Metric.Metric.Counter<number> = counter(
  "single_flight_joins",
  "Callers that joined an in-flight login or refresh"
)

const byEvent: Record<AuthSession.Event, Metric.Metric.Counter<number>> = {
  login: logins,
  refresh: refreshes,
  failure: failures,
  storeWriteFailure: storeWriteFailures,
  join: singleFlightJoins
}

/** Counters tagged with a provider, made once per provider and event rather than at every increment. */
const tagged = new Map<string, Metric.Metric.Counter<number>>()

/**
 * The `AuthSession.Observer` that counts every event in the counters of this module.
 *
 * @since 0.2.0
 * @category observers
 */
export const observer = (event: AuthSession.Event, provider: string): Effect.Effect<void> => {
  const id = `${event} ${provider}`
  let metric = tagged.get(id)
  if (metric === undefined) tagged.set(id, metric = Metric.tagged(byEvent[event], "provider", provider))
  return Metric.increment(metric)
}

/**
 * Turns the counters on for the sessions built where this layer is provided.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<AuthSession.Observer> = Layer.succeed(AuthSession.Observer, observer)
