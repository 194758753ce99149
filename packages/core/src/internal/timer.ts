/**
 * The timer behind every session's scheduled refresh: one min-heap of alarms and one fiber per
 * `Clock`, instead of a sleeping fiber per session.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as List from "effect/List"
import * as Tracer from "effect/Tracer"
import type * as TokenSet from "../TokenSet.js"

/** The longest sleep a JavaScript timer performs (a longer one would never fire). */
const maxSleepMillis = 2 ** 31 - 1

/** Something due at `at` (epoch ms on the timer's clock): what the heap holds. */
export interface Entry {
  readonly at: number
  cancelled: boolean
  /** Where the entry sits in the heap, -1 once it left it: cancelling removes it at once. */
  index: number
  /** Runs on the timer's fiber when the entry is due. */
  readonly fire: () => Effect.Effect<void>
}

/** A scheduled refresh of one session. */
export class Alarm implements Entry {
  cancelled = false
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
 * A per-attempt deadline: when due, it interrupts the fiber sending the attempt, as
 * `deadlineInterruptor`. Deadlines of one timeout setting fall due in the order they were added,
 * so adding one never restarts the timer while another is pending.
 */
export class Deadline implements Entry {
  cancelled = false
  index = -1
  /** Whether the deadline passed while the attempt was still running. */
  expired = false
  /** Whether the attempt ended: a deadline that falls due after that interrupts nothing. */
  settled = false
  constructor(readonly at: number, readonly fiber: Fiber.RuntimeFiber<unknown, unknown>) {}

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

const place = (heap: Array<Entry>, index: number, alarm: Entry): void => {
  heap[index] = alarm
  alarm.index = index
}

const siftUp = (heap: Array<Entry>, index: number): void => {
  const alarm = heap[index]
  let i = index
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (heap[parent].at <= alarm.at) break
    place(heap, i, heap[parent])
    i = parent
  }
  place(heap, i, alarm)
}

const siftDown = (heap: Array<Entry>, index: number): void => {
  const alarm = heap[index]
  let i = index
  for (;;) {
    const left = 2 * i + 1
    const right = left + 1
    let smallest = i
    let smallestAt = alarm.at
    if (left < heap.length && heap[left].at < smallestAt) smallestAt = heap[smallest = left].at
    if (right < heap.length && heap[right].at < smallestAt) smallest = right
    if (smallest === i) break
    place(heap, i, heap[smallest])
    i = smallest
  }
  place(heap, i, alarm)
}

const pushAlarm = (heap: Array<Entry>, alarm: Entry): void => {
  heap.push(alarm)
  siftUp(heap, heap.length - 1)
}

/** Takes the alarm at `index` out of the heap, so that nothing keeps it (or its session) alive. */
const removeAt = (heap: Array<Entry>, index: number): Entry => {
  const removed = heap[index]
  const last = heap.pop()
  if (last !== undefined && last !== removed) {
    place(heap, index, last)
    siftDown(heap, index)
    siftUp(heap, last.index)
  }
  removed.index = -1
  return removed
}

/**
 * The scheduled refreshes of every session on one `Clock`: a min-heap of alarms and one fiber
 * sleeping until the earliest. A sleeping fiber per session would cost kilobytes of heap for
 * every idle session; an alarm costs a few dozen bytes. The fiber stops when no alarm is left,
 * so closed sessions leave no timer behind to keep the process alive.
 */
export class Timer {
  private readonly heap: Array<Entry> = []
  private generation = 0
  private fiber: Fiber.RuntimeFiber<void> | undefined = undefined
  private wakeAt = Infinity
  /**
   * A restarted loop has not taken its first step yet. It reads the heap then, so alarms added
   * until then (50,000 sessions built in one go, in any order) need no restart of their own.
   */
  private starting = false
  /** How many times a loop fiber was started: what adding and cancelling entries cost in forks. */
  restarts = 0

  constructor(private readonly clock: Clock.Clock) {}

  /** The alarms waiting: every open session with a scheduled refresh, and nothing else. */
  get size(): number {
    return this.heap.length
  }

  add(alarm: Entry): Effect.Effect<void> {
    return Effect.suspend(() => {
      pushAlarm(this.heap, alarm)
      return this.starting || (this.fiber !== undefined && alarm.at >= this.wakeAt) ? Effect.void : this.restart()
    })
  }

  cancel(alarm: Entry): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (alarm.cancelled) return Effect.void
      alarm.cancelled = true
      if (alarm.index >= 0) removeAt(this.heap, alarm.index)
      return this.heap.length > 0 ? Effect.void : this.stop()
    })
  }

  private stop(): Effect.Effect<void> {
    const fiber = this.fiber
    this.generation++
    this.fiber = undefined
    this.wakeAt = Infinity
    this.starting = false
    return fiber === undefined ? Effect.void : Fiber.interruptFork(fiber)
  }

  // The loop belongs to no session and no caller: it runs without their span or log annotations.
  private restart(): Effect.Effect<void> {
    const previous = this.stop()
    this.starting = true
    this.restarts++
    const generation = this.generation
    const loop = this.loop(generation).pipe(
      Effect.interruptible,
      Effect.mapInputContext(withoutParentSpan),
      Effect.locally(FiberRef.currentLogAnnotations, HashMap.empty()),
      Effect.locally(FiberRef.currentLogSpan, List.empty())
    )
    return Effect.zipRight(
      previous,
      Effect.map(Effect.forkDaemon(loop), (fiber) => {
        if (this.generation === generation) this.fiber = fiber
      })
    )
  }

  // Every step first checks that this loop is still the current one, so a loop that was
  // replaced stops at its next step even before its interruption arrives.
  private loop(generation: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (generation !== this.generation) return Effect.void
      this.starting = false
      if (this.heap.length === 0) {
        this.fiber = undefined
        this.wakeAt = Infinity
        return Effect.void
      }
      this.wakeAt = this.heap[0].at
      // Rounded up, so that after the sleep the alarm is due even on a clock with fractions.
      const delay = Math.min(Math.ceil(this.wakeAt - this.clock.unsafeCurrentTimeMillis()), maxSleepMillis)
      return Effect.zipRight(delay > 0 ? this.clock.sleep(Duration.millis(delay)) : Effect.void, this.fire(generation))
    })
  }

  private fire(generation: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (generation !== this.generation) return Effect.void
      const now = this.clock.unsafeCurrentTimeMillis()
      const due: Array<Entry> = []
      while (this.heap.length > 0 && this.heap[0].at <= now) {
        const alarm = removeAt(this.heap, 0)
        alarm.cancelled = true
        due.push(alarm)
      }
      return Effect.zipRight(
        Effect.forEach(due, (alarm) => alarm.fire(), { discard: true }),
        this.loop(generation)
      )
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
): Effect.Effect<A, E | E2> => {
  const timed = Effect.withFiberRuntime<A, E | E2>((fiber) => {
    const deadline = new Deadline(at, fiber)
    const settle = (exit: Exit.Exit<A, E>): Effect.Effect<A, E | E2> => {
      deadline.settled = true
      const cancel = timer.cancel(deadline)
      // A deadline that fired has interrupted the fiber before this step ran: its interruption is
      // in the fiber's interrupted cause, alone unless the caller was interrupted as well.
      if (!deadline.expired || HashSet.size(Cause.interruptors(fiber.getFiberRef(FiberRef.interruptedCause))) > 1) {
        return Effect.zipRight(cancel, exit)
      }
      const outcome: Effect.Effect<A, E | E2> = Exit.isFailure(exit) ? Effect.fail(onTimeout()) : exit
      return Effect.zipRight(Effect.zipRight(cancel, FiberRef.set(FiberRef.interruptedCause, Cause.empty)), outcome)
    }
    // Added within the mask, so that a deadline already due still ends as `onTimeout()`.
    return Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(
        timer.add(deadline),
        Effect.matchCauseEffect(restore(effect), {
          onFailure: (cause) => settle(Exit.failCause(cause)),
          onSuccess: (value) => settle(Exit.succeed(value))
        })
      )
    )
  })
  return Effect.withFiberRuntime((fiber) => {
    // Effect 3's fiber keeps its children in `_children`; `fiber.children` would ask the fiber
    // through its mailbox, which costs a deferred and a message on every attempt.
    const children = (fiber as { readonly _children?: ReadonlySet<unknown> | null })._children
    const inChild = () => Effect.flatMap(Effect.fork(timed), Fiber.join)
    return children === undefined
      ? Effect.flatMap(fiber.children, (all) => all.length > 0 ? inChild() : timed)
      : children !== null && children.size > 0
      ? inChild()
      : timed
  })
}

const timers = globalValue(Symbol.for("@effect-auth/core/AuthSession/timers"), () => new WeakMap<Clock.Clock, Timer>())

export const timerFor = (clock: Clock.Clock): Timer => {
  const existing = timers.get(clock)
  if (existing !== undefined) return existing
  const timer = new Timer(clock)
  timers.set(clock, timer)
  return timer
}

/** Scheduled refreshes are nobody's child: drop whatever span the scheduling fiber was in. */
const withoutParentSpan = (context: Context.Context<never>): Context.Context<never> =>
  Context.omit(Tracer.ParentSpan)(context)
