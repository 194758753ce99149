/**
 * One subscriber connection per store, shared by every session and lease waiter of the store:
 * a map from channel to listeners, subscribed while it has any.
 *
 * A subscriber connection that drops misses whatever was published meanwhile, so each time it
 * becomes ready again the hub subscribes every channel afresh and tells each listener
 * `"ready"`: sessions then re-read their key and adopt what changed while they were deaf.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Redis } from "ioredis"

/** Called with each message on a channel, and with `"ready"` after a reconnection. */
export type Listener = (message: string) => void

/** The message a listener receives when the subscriber connection (re)connected. */
export const ready = "ready"

export interface Hub {
  /**
   * Listens on `channel` while the scope lives. Waits (at most `timeout`) until Redis has
   * confirmed the subscription, so that nothing published afterwards is missed; when Redis is
   * away it returns anyway and the subscription is made when the connection is ready.
   */
  readonly listen: (channel: string, listener: Listener) => Effect.Effect<void, never, Scope.Scope>
}

export const make = (subscriber: Redis, timeout: Duration.Duration): Effect.Effect<Hub, never, Scope.Scope> =>
  Effect.gen(function*() {
    const channels = new Map<string, Set<Listener>>()
    const ignore = () => undefined

    const onMessage = (channel: string, message: string) => {
      const listeners = channels.get(channel)
      if (listeners !== undefined) { for (const listener of Array.from(listeners)) listener(message) }
    }
    // Resubscribing ourselves (rather than ioredis's `autoResubscribe`) also covers channels
    // whose first SUBSCRIBE failed because the connection was down at the time.
    const onReady = () => {
      const names = Array.from(channels.keys())
      if (names.length > 0) subscriber.subscribe(...names).catch(ignore)
      for (const listeners of channels.values()) for (const listener of Array.from(listeners)) listener(ready)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        subscriber.on("message", onMessage)
        subscriber.on("ready", onReady)
      }),
      () =>
        Effect.sync(() => {
          subscriber.off("message", onMessage)
          subscriber.off("ready", onReady)
        })
    )

    const listen: Hub["listen"] = (channel, listener) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          let listeners = channels.get(channel)
          const first = listeners === undefined
          if (listeners === undefined) channels.set(channel, listeners = new Set())
          listeners.add(listener)
          if (!first || subscriber.status !== "ready") return Effect.void
          return Effect.promise(() => subscriber.subscribe(channel).then(ignore, ignore)).pipe(
            Effect.timeout(timeout),
            Effect.ignore
          )
        }),
        () =>
          Effect.sync(() => {
            const listeners = channels.get(channel)
            if (listeners !== undefined && listeners.delete(listener) && listeners.size === 0) {
              channels.delete(channel)
              if (subscriber.status === "ready") subscriber.unsubscribe(channel).catch(ignore)
            }
          })
      )

    return { listen }
  })
