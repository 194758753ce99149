/**
 * Records the spans an effect creates, for tests that assert what tracing would export: every
 * span keeps its name, attributes and final status, as the native tracer holds them.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Tracer from "effect/Tracer"

/**
 * What `record` yields: how the effect ended, and every span it created, in creation order.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recording<A, E> {
  readonly exit: Exit.Exit<A, E>
  readonly spans: ReadonlyArray<Tracer.Span>
}

/**
 * Runs `effect` with a tracer that delegates to the current one and keeps every span.
 *
 * @since 0.1.0
 * @category constructors
 */
export const record = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Recording<A, E>, never, R> =>
  Effect.gen(function*() {
    const base = yield* Effect.tracer
    const spans: Array<Tracer.Span> = []
    const tracer = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const span = base.span(name, parent, context, links, startTime, kind, options)
        spans.push(span)
        return span
      },
      context: (f, fiber) => base.context(f, fiber)
    })
    const exit = yield* Effect.exit(Effect.withTracer(effect, tracer))
    return { exit, spans }
  })

/**
 * Every text a span would export: its name, each attribute as `name=value`, and the failure of
 * its exit, pretty-printed.
 *
 * @since 0.1.0
 * @category accessors
 */
export const texts = (span: Tracer.Span): ReadonlyArray<string> => {
  const out = [span.name]
  for (const [name, value] of span.attributes) out.push(`${name}=${String(value)}`)
  if (span.status._tag === "Ended" && span.status.exit._tag === "Failure") {
    out.push(Cause.pretty(span.status.exit.cause))
  }
  return out
}
