/**
 * The timer behind every session's scheduled refresh and every attempt's deadline: one min-heap
 * of entries and one fiber per `Clock`, instead of a sleeping fiber per session.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import type * as TokenSet from "../TokenSet.js"

/** Something due at `at` (epoch ms on the timer's clock): what the heap holds. */
export interface Entry {
  readonly at: number
  /** Where the entry sits in the heap, -1 when it is not in it: cancelling removes it at once. */
  index: number
  /** Runs on the timer's fiber when the entry is due. */
  readonly fire: () => Effect.Effect<void>
}

/** A scheduled refresh of one session. */
export class Alarm implements Entry {
  index = -1
  constructor(
    readonly at: number,
    readonly tokens: TokenSet.TokenSet,
    readonly owner: { readonly onAlarm: (alarm: Alarm) => Effect.Effect<void> }
  ) {}

  fire(): Effect.Effect<void> {
    return this.owner.onAlarm(this)
  }
}
/**
 * A per-attempt deadline: when due, it interrupts the fiber sending the attempt. Deadlines of one
 * timeout setting fall due in the order they were added, so adding one never restarts the timer
 * while another is pending.
 */
export class Deadline implements Entry {
  index = -1
  /** Whether the deadline passed while the attempt was still running. */
  expired = false
  constructor(readonly at: number, readonly fiber: Fiber.RuntimeFiber<unknown, unknown>) {}

  fire(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (this.fiber.unsafePoll() !== null) return
      this.expired = true
      this.fiber.unsafeInterruptAsFork(FiberId.none)
    })
  }
}

/**
 * The scheduled refreshes and deadlines on one `Clock`: a min-heap of entries and one fiber
 * sleeping until the earliest. A sleeping fiber per session would cost kilobytes of heap for
 * every idle session; an entry costs a few dozen bytes. The fiber stops when no entry is left,
 * so closed sessions leave no timer behind to keep the process alive.
 */
export interface Timer {
  /** The entries waiting: every open session with a scheduled refresh, every running attempt. */
  readonly size: number
  /** How many times a loop fiber was started: what adding and cancelling entries cost in forks. */
  readonly restarts: number
  readonly add: (entry: Entry) => Effect.Effect<void>
  readonly cancel: (entry: Entry) => Effect.Effect<void>
}

/** The longest sleep a JavaScript timer performs (a longer one would never fire). */
const maxSleepMillis = 2 ** 31 - 1

/**
 * What the loop starts without: it belongs to no session and no caller, so it runs without their
 * services, span or log annotations (what it fires needs none: an entry carries its own).
 */
const detach = Effect.all([
  FiberRef.reset(FiberRef.currentContext),
  FiberRef.reset(FiberRef.currentLogAnnotations),
  FiberRef.reset(FiberRef.currentLogSpan)
])

const make = (clock: Clock.Clock): Timer => {
  const heap: Array<Entry> = []
  let restarts = 0
  // Bumped whenever the loop is replaced or ends: a loop whose generation is past stops at its
  // next step, even before its interruption arrives.
  let generation = 0
  let fiber: Fiber.RuntimeFiber<void> | undefined
  // When the sleeping loop wakes up (Infinity: no loop). Only a sleeping loop has to be
  // restarted for an entry due earlier: a loop that is awake (starting, firing, or waiting for
  // adds to settle) reads the heap before it sleeps again.
  let wakeAt = Infinity
  let awake = false
  // A new earliest entry was added while the loop was awake: the loop waits for the adding
  // fibers to pause before it sleeps, so that 50,000 sessions built in one go, in any order of
  // expiry, start the loop once instead of once per turn.
  let moved = false

  // Moves the entry at `i` up or down to where it belongs: one of the two loops runs.
  const sift = (i: number): void => {
    const entry = heap[i]
    for (let parent: number; i > 0 && heap[parent = (i - 1) >> 1].at > entry.at; i = parent) {
      ;(heap[i] = heap[parent]).index = i
    }
    for (let child: number; (child = 2 * i + 1) < heap.length; i = child) {
      if (child + 1 < heap.length && heap[child + 1].at < heap[child].at) child++
      if (heap[child].at >= entry.at) break
      ;(heap[i] = heap[child]).index = i
    }
    ;(heap[i] = entry).index = i
  }

  // Takes the entry at `i` out of the heap, so that nothing keeps it (or its session) alive.
  const remove = (i: number): Entry => {
    const entry = heap[i]
    const last = heap.pop()!
    entry.index = -1
    if (i < heap.length) {
      heap[i] = last
      sift(i)
    }
    return entry
  }

  const stop = (): void => {
    generation++
    awake = false
    wakeAt = Infinity
    fiber?.unsafeInterruptAsFork(FiberId.none)
    fiber = undefined
  }

  const loop = (current: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (current !== generation) return Effect.void
      if (heap.length === 0) {
        fiber = undefined
        stop()
        return Effect.void
      }
      awake = true
      const now = clock.unsafeCurrentTimeMillis()
      if (heap[0].at <= now) return Effect.zipRight(remove(0).fire(), loop(current))
      // After a new earliest entry, a zero sleep (a turn of the event loop on the live clock)
      // lets its fiber add more before the loop sleeps for real.
      awake = moved
      moved = false
      wakeAt = heap[0].at
      // Rounded up, so that after the sleep the entry is due even on a clock with fractions.
      const delay = awake ? 0 : Math.min(Math.ceil(wakeAt - now), maxSleepMillis)
      return Effect.zipRight(clock.sleep(Duration.millis(delay)), loop(current))
    })

  const restart = (): Effect.Effect<void> => {
    stop()
    // The adding fiber goes on after the fork: the new loop lets it run before sleeping.
    awake = moved = true
    restarts++
    const current = generation
    return Effect.map(
      Effect.forkDaemon(
        Effect.interruptible(Effect.zipRight(detach, loop(current)))
      ),
      (started) => {
        if (current === generation) fiber = started
      }
    )
  }

  return {
    get size() {
      return heap.length
    },
    get restarts() {
      return restarts
    },
    add: (entry) =>
      Effect.suspend(() => {
        heap.push(entry)
        sift(heap.length - 1)
        moved ||= awake && entry.index === 0
        return awake || entry.at >= wakeAt ? Effect.void : restart()
      }),
    // An awake loop is left to find the heap empty: it may be firing an entry it took out.
    cancel: (entry) =>
      Effect.sync(() => {
        if (entry.index < 0) return
        remove(entry.index)
        if (heap.length === 0 && !awake) stop()
      })
  }
}

/**
 * Runs `effect` in a child fiber that is interrupted if it has not finished by `millis` from now
 * on the clock of `timer`, failing then with `onTimeout()`. It costs one fork and one entry in the
 * shared heap, where `Effect.timeout` races two forked fibers and arms a timer of its own.
 */
export const timeout = <A, E, E2>(
  effect: Effect.Effect<A, E>,
  timer: Timer,
  at: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2> =>
  Effect.flatMap(Effect.fork(effect), (fiber) => {
    const deadline = new Deadline(at, fiber)
    return Effect.zipRight(
      timer.add(deadline),
      Effect.async<A, E | E2>((resume) => {
        const observer = (exit: Exit.Exit<A, E>) => {
          const outcome: Effect.Effect<A, E | E2> = deadline.expired && exit._tag === "Failure"
            ? Effect.fail(onTimeout())
            : exit
          resume(Effect.zipRight(timer.cancel(deadline), outcome))
        }
        fiber.addObserver(observer)
        return Effect.suspend(() => {
          fiber.removeObserver(observer)
          return Effect.zipRight(timer.cancel(deadline), Fiber.interrupt(fiber))
        })
      })
    )
  })

const timers = globalValue(Symbol.for("@effect-auth/core/timers"), () => new WeakMap<Clock.Clock, Timer>())

/** The timer of `clock`: one per clock, shared by every session and client that uses it. */
export const timerFor = (clock: Clock.Clock): Timer => {
  let timer = timers.get(clock)
  if (timer === undefined) timers.set(clock, timer = make(clock))
  return timer
}
