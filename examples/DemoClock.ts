/**
 * The quickstart's clock: real time, shifted so that it reads a few seconds before a full
 * minute when the program starts.
 *
 * Why: Cal.com rounds an access token's expiry down to the minute, and the fake does too. A
 * token issued 4 seconds before a full minute with a lifetime just over a minute expires at that
 * full minute, 4 seconds later: short enough to watch the session refresh it by itself, and the
 * token it gets then lives a whole minute. Everything in the library and in the fakes reads time
 * from Effect's `Clock`, so providing this one is all it takes: sessions and servers agree.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * A clock that reads `seconds` before a full minute now and then runs at the real pace.
 *
 * @since 0.1.0
 * @category constructors
 */
export const beforeFullMinute = (seconds: number): Effect.Effect<Clock.Clock> =>
  Effect.clockWith((real) =>
    Effect.sync((): Clock.Clock => {
      const now = real.unsafeCurrentTimeMillis()
      // Always shift forward, so the shifted clock never reads earlier than the real one.
      const offset = (60_000 - seconds * 1000 - (now % 60_000) + 60_000) % 60_000
      const millis = () => real.unsafeCurrentTimeMillis() + offset
      const nanos = () => real.unsafeCurrentTimeNanos() + BigInt(offset) * 1_000_000n
      return {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: millis,
        currentTimeMillis: Effect.sync(millis),
        unsafeCurrentTimeNanos: nanos,
        currentTimeNanos: Effect.sync(nanos),
        sleep: (duration: Duration.Duration) => real.sleep(duration)
      }
    })
  )
