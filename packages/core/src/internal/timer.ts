/**
 * The timer behind every session's scheduled refresh and every attempt's deadline: one min-heap
 * of entries and one fiber per `Clock`, instead of a sleeping fiber per session.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as HashSet from "effect/HashSet"

/** Something due at `at` (epoch ms on the timer's clock): what the heap holds. */
export interface Entry {
  readonly at: number
  /** Where the entry sits in the heap, -1 when it is not in it: cancelling removes it at once. */
  index: number
  /** Runs on the timer's fiber when the entry is due. */
  readonly fire: () => Effect.Effect<void>
}

/**
 * A per-attempt deadline: when due, it interrupts the fiber sending the attempt, as
 * `deadlineInterruptor`. Deadlines of one timeout setting fall due in the order they were added,
 * so adding one never restarts the timer while another is pending.
 */
export class Deadline implements Entry {
  index = -1
  /** Whether the deadline passed while the attempt was still running. */
  expired = false
  /** Whether the attempt ended: a deadline that falls due after that interrupts nothing. */
  settled = false
  constructor(readonly at: number, readonly fiber: Fiber.RuntimeFiber<unknown, unknown>) {}

  /**
   * Marks the attempt ended, and tells whether it ends as a timeout: the deadline fired and so
   * interrupted the fiber, and no one else did (a caller's interruption goes on). The deadline's
   * interruption is then the only one in the fiber's interrupted cause.
   */
  settle(): boolean {
    this.settled = true
    return this.expired &&
      HashSet.size(Cause.interruptors(this.fiber.getFiberRef(FiberRef.interruptedCause))) <= 1
  }

  fire(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (this.settled) return
      this.expired = true
      this.fiber.unsafeInterruptAsFork(deadlineInterruptor)
    })
  }
}

/** Whom a deadline interrupts as: told apart from whoever else interrupts the same fiber. */
const deadlineInterruptor = FiberId.runtime(-1, 0)

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
 * Runs `effect` until `at` on the clock of `timer` (epoch ms), failing then with `onTimeout()`,
 * for the price of one entry in the shared heap (`Effect.timeout` races two forked fibers and arms
 * a timer of its own). The effect runs on the calling fiber, which the deadline interrupts; that
 * interruption ends as `onTimeout()`, unless the caller was interrupted too: then the caller's
 * interruption goes on. Interrupting a fiber interrupts its children as well, so a caller that
 * has children runs the effect in a child fiber of its own instead.
 */
export const timeout = <A, E, E2>(
  effect: Effect.Effect<A, E>,
  timer: Timer,
  at: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2> =>
  Effect.withFiberRuntime<A, E | E2>((fiber) => {
    // Effect 3's fiber keeps its children in `_children`; `fiber.children` would ask the fiber
    // through its mailbox, which costs a deferred and a message on every attempt.
    const children = (fiber as { readonly _children?: ReadonlySet<unknown> | null })._children
    return children === undefined
      ? Effect.flatMap(
        fiber.children,
        (all) => all.length > 0 ? inChild(effect, timer, at, onTimeout) : timed(effect, timer, at, onTimeout, fiber)
      )
      : children !== null && children.size > 0
      ? inChild(effect, timer, at, onTimeout)
      : timed(effect, timer, at, onTimeout, fiber)
  })

const inChild = <A, E, E2>(effect: Effect.Effect<A, E>, timer: Timer, at: number, onTimeout: () => E2) =>
  Effect.flatMap(
    Effect.fork(
      Effect.withFiberRuntime<A, E | E2>((fiber) => timed(effect, timer, at, onTimeout, fiber))
    ),
    Fiber.join
  )

/** `effect` on `fiber` (the one running this), which its deadline interrupts. */
const timed = <A, E, E2>(
  effect: Effect.Effect<A, E>,
  timer: Timer,
  at: number,
  onTimeout: () => E2,
  fiber: Fiber.RuntimeFiber<unknown, unknown>
): Effect.Effect<A, E | E2> => {
  const deadline = new Deadline(at, fiber)
  // Added within the mask, so that a deadline already due still ends as `onTimeout()`.
  return Effect.uninterruptibleMask((restore) =>
    Effect.zipRight(
      timer.add(deadline),
      Effect.flatMap(
        Effect.catchAllCause(
          restore(effect),
          (cause): Effect.Effect<never, E | E2> =>
            deadline.settle()
              ? Effect.zipRight(cleared(timer.cancel(deadline)), Effect.fail(onTimeout()))
              : Effect.zipRight(timer.cancel(deadline), Effect.failCause(cause))
        ),
        // An attempt that succeeded as its deadline fell due keeps its value.
        (value) =>
          deadline.settle()
            ? Effect.as(cleared(timer.cancel(deadline)), value)
            : Effect.as(timer.cancel(deadline), value)
      )
    )
  )
}

/** `cancel`, and the deadline's interruption cleared from the fiber, which goes on uninterrupted. */
const cleared = (cancel: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.zipRight(cancel, FiberRef.set(FiberRef.interruptedCause, Cause.empty))

const timers = globalValue(Symbol.for("@effect-auth/core/timers"), () => new WeakMap<Clock.Clock, Timer>())

/** The timer of `clock`: one per clock, shared by every session and client that uses it. */
export const timerFor = (clock: Clock.Clock): Timer => {
  let timer = timers.get(clock)
  if (timer === undefined) timers.set(clock, timer = make(clock))
  return timer
}
