import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { type Entry, timeout, timerFor } from "../src/internal/timer.js"

/** A few turns of the event loop: the timer's fiber runs the entries a clock adjustment made due. */
const settle = Effect.repeatN(
  Effect.async<void>((resume) => {
    const handle = setTimeout(() => resume(Effect.void), 0)
    return Effect.sync(() => clearTimeout(handle))
  }),
  4
)
const advance = (duration: Duration.DurationInput) => Effect.zipRight(TestClock.adjust(duration), settle)

/** Entries that record, in `fired`, the offset from `start` they were due at. */
const recorder = Effect.gen(function*() {
  const clock = yield* Effect.clock
  const start = clock.unsafeCurrentTimeMillis()
  const fired: Array<number> = []
  const entry = (offset: number): Entry => ({
    at: start + offset,
    index: -1,
    fire: () => Effect.sync(() => fired.push(offset))
  })
  return { timer: timerFor(clock), fired, entry }
})

describe("the shared timer", () => {
  it.effect("one timer per clock", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      assert.strictEqual(timerFor(clock), timerFor(clock))
      assert.notStrictEqual(timerFor(clock), timerFor(Object.create(clock)))
    }))

  it.effect("fires entries in order of due time when the clock reaches them, whatever the order added", () =>
    Effect.gen(function*() {
      const { entry, fired, timer } = yield* recorder
      for (const offset of [5_000, 1_000, 3_000, 2_000, 4_000]) yield* timer.add(entry(offset))
      yield* advance("2500 millis")
      assert.deepStrictEqual(fired, [1_000, 2_000])
      yield* advance("3 seconds")
      assert.deepStrictEqual(fired, [1_000, 2_000, 3_000, 4_000, 5_000])
      assert.strictEqual(timer.size, 0)
    }))

  it.effect("an entry earlier than the one the timer sleeps for fires on time", () =>
    Effect.gen(function*() {
      const { entry, fired, timer } = yield* recorder
      yield* timer.add(entry(60_000))
      yield* advance("1 second")
      yield* timer.add(entry(3_000))
      yield* advance("1999 millis")
      assert.deepStrictEqual(fired, [])
      yield* advance("1 millis")
      assert.deepStrictEqual(fired, [3_000])
      yield* advance("1 minute")
      assert.deepStrictEqual(fired, [3_000, 60_000])
    }))

  it.effect("a cancelled entry leaves the heap at once and never fires; the fiber stops with the last", () =>
    Effect.gen(function*() {
      const { entry, fired, timer } = yield* recorder
      const first = entry(1_000)
      const second = entry(2_000)
      yield* timer.add(first)
      yield* timer.add(second)
      yield* settle
      yield* timer.cancel(first)
      assert.strictEqual(timer.size, 1)
      assert.strictEqual(first.index, -1)
      yield* timer.cancel(first)
      yield* timer.cancel(second)
      assert.strictEqual(timer.size, 0)
      yield* advance("1 minute")
      assert.deepStrictEqual(fired, [])
      // Nothing was left running: the next entry starts a new fiber.
      const restarts = timer.restarts
      yield* timer.add(entry(120_000))
      assert.strictEqual(timer.restarts, restarts + 1)
      yield* advance("1 minute")
      assert.deepStrictEqual(fired, [120_000])
    }))

  it.effect("an entry further away than the longest JavaScript timer still fires", () =>
    Effect.gen(function*() {
      const { entry, fired, timer } = yield* recorder
      const far = 2 ** 31 + 5_000
      yield* timer.add(entry(far))
      yield* advance(Duration.millis(2 ** 31 - 1))
      assert.deepStrictEqual(fired, [])
      yield* advance("5 seconds")
      assert.deepStrictEqual(fired, [], "not due before its time")
      yield* advance("1 second")
      assert.deepStrictEqual(fired, [far])
    }))

  it.effect("an entry added while due entries fire is kept and fires at its own time", () =>
    Effect.gen(function*() {
      const { entry, fired, timer } = yield* recorder
      const first = entry(1_000)
      yield* timer.add({ ...first, fire: () => Effect.zipRight(first.fire(), timer.add(entry(1_500))) })
      yield* advance("1 second")
      assert.deepStrictEqual(fired, [1_000])
      yield* advance("500 millis")
      assert.deepStrictEqual(fired, [1_000, 1_500])
    }))

  it.effect("cancelling the last pending entry while due entries fire lets them all finish", () =>
    Effect.gen(function*() {
      const { entry, fired, timer } = yield* recorder
      const later = entry(60_000)
      const first = entry(1_000)
      yield* timer.add({
        ...first,
        fire: () => Effect.zipRight(timer.cancel(later), Effect.zipRight(Effect.yieldNow(), first.fire()))
      })
      yield* timer.add(entry(1_000))
      yield* timer.add(later)
      yield* advance("1 second")
      assert.deepStrictEqual(fired, [1_000, 1_000])
      assert.strictEqual(timer.size, 0)
    }))

  it.effect("entries added in descending order in one go start the timer's fiber once (live clock)", () =>
    Effect.gen(function*() {
      // A live clock of its own, so that the test has a timer of its own.
      const timer = timerFor(Clock.make())
      const now = Date.now()
      const entries = Array.from({ length: 20_000 }, (_, i): Entry => ({
        at: now + 3_600_000 - i * 10,
        index: -1,
        fire: () => Effect.void
      }))
      yield* Effect.forEach(entries, (entry) => timer.add(entry), { discard: true })
      assert.strictEqual(timer.restarts, 1)
      assert.strictEqual(timer.size, 20_000)
      yield* Effect.forEach(entries, (entry) => timer.cancel(entry), { discard: true })
      assert.strictEqual(timer.size, 0)
    }))

  it.effect("a deadline interrupts an attempt that outlives it, and fails with the timeout error", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const timer = timerFor(clock)
      const slow = timeout(Effect.never, timer, clock.unsafeCurrentTimeMillis() + 1_000, () => "timed out")
      const fiber = yield* Effect.fork(slow)
      yield* advance("999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* advance("1 millis")
      assert.deepStrictEqual(yield* Fiber.await(fiber), Exit.fail("timed out"))
      const quick = yield* timeout(Effect.succeed(1), timer, clock.unsafeCurrentTimeMillis() + 1_000, () => "late")
      assert.strictEqual(quick, 1)
      assert.strictEqual(timer.size, 0)
    }))
})
