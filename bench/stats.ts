/**
 * Small helpers shared by the scenarios: medians, percentiles, a load loop with a fixed number
 * of workers, a settled process between runs, and number formatting for the tables.
 *
 * @since 0.1.0
 */
import * as V8 from "node:v8"
import * as Vm from "node:vm"

/**
 * The value at quantile `q` (0..1) of `values`, nearest-rank.
 *
 * @since 0.1.0
 */
export const percentile = (values: ArrayLike<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

/**
 * @since 0.1.0
 */
export const median = (values: ArrayLike<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/**
 * What one run of a request load measured.
 *
 * @since 0.1.0
 */
export interface LoadFigures {
  readonly requests: number
  readonly errors: number
  readonly seconds: number
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Client CPU (user + system, `process.cpuUsage`) per request or caller, in microseconds. */
  readonly cpuMicros: number
}

/**
 * Latencies (ms) recorded by a load run, and the errors it counted.
 *
 * @since 0.1.0
 */
export class Recorder {
  readonly latencies: Float64Array
  private count = 0
  errors = 0
  startedAt = 0
  endedAt = 0
  private readonly cpuAtStart = process.cpuUsage()

  constructor(readonly size: number) {
    this.latencies = new Float64Array(size)
  }

  record(ms: number): void {
    this.latencies[this.count++] = ms
  }

  figures(): LoadFigures {
    const recorded = this.latencies.subarray(0, this.count)
    const seconds = (this.endedAt - this.startedAt) / 1000
    const cpu = process.cpuUsage(this.cpuAtStart)
    return {
      cpuMicros: (cpu.user + cpu.system) / Math.max(1, this.count),
      requests: this.count,
      errors: this.errors,
      seconds,
      perSecond: this.count / seconds,
      p50Ms: percentile(recorded, 0.5),
      p99Ms: percentile(recorded, 0.99)
    }
  }
}

/**
 * Runs `one` `total` times with `concurrency` async workers, each taking the next request when its
 * previous one is done (the shape every Promise-based client below is driven with). `one` resolves
 * to whether the request succeeded.
 *
 * @since 0.1.0
 */
export const runLoad = async (
  total: number,
  concurrency: number,
  one: () => Promise<boolean>
): Promise<LoadFigures> => {
  const recorder = new Recorder(total)
  let next = 0
  const worker = async () => {
    while (next < total) {
      next++
      const startedAt = performance.now()
      let ok = false
      try {
        ok = await one()
      } catch {
        ok = false
      }
      recorder.record(performance.now() - startedAt)
      if (!ok) recorder.errors++
    }
  }
  recorder.startedAt = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  recorder.endedAt = performance.now()
  return recorder.figures()
}

/**
 * Starts `total` callers of `one` at once and records, for each, how long it waited.
 *
 * @since 0.1.0
 */
export const runBurst = async (total: number, one: () => Promise<boolean>): Promise<LoadFigures> => {
  const recorder = new Recorder(total)
  recorder.startedAt = performance.now()
  const started = recorder.startedAt
  await Promise.all(Array.from({ length: total }, async () => {
    let ok = false
    try {
      ok = await one()
    } catch {
      ok = false
    }
    recorder.record(performance.now() - started)
    if (!ok) recorder.errors++
  }))
  recorder.endedAt = performance.now()
  return recorder.figures()
}

/**
 * The order the candidates run in, in round `round`: rotated every round, so no library always
 * runs first (on a cold JIT) or last (after the others' garbage).
 *
 * @since 0.1.0
 */
export const rotate = <A>(items: ReadonlyArray<A>, round: number): Array<A> => {
  const shift = round % items.length
  return [...items.slice(shift), ...items.slice(0, shift)]
}

/**
 * @since 0.1.0
 */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

let gc: (() => void) | undefined

/**
 * A full garbage collection, so that a run does not pay for the garbage of the one before. The
 * bench runs without `--expose-gc`, so on first use the flag is set and `gc` taken from a fresh
 * context, where V8 installs it once the flag is on.
 *
 * @since 0.1.0
 */
export const collect = (): void => {
  if (gc === undefined) {
    let exposed: unknown = Reflect.get(globalThis, "gc")
    if (typeof exposed !== "function") {
      V8.setFlagsFromString("--expose-gc")
      exposed = Vm.runInNewContext("gc")
    }
    const found = exposed
    gc = typeof found === "function" ? () => found() : () => {}
  }
  gc()
}

/**
 * Lets the process settle between runs: pending timers, sockets closing, then a full garbage
 * collection.
 *
 * @since 0.1.0
 */
export const settle = async (): Promise<void> => {
  await sleep(50)
  collect()
}

/**
 * A number with thousands separators and `digits` decimals.
 *
 * @since 0.1.0
 */
export const fmt = (value: number, digits = 0): string =>
  Number.isFinite(value)
    ? value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "n/a"

/**
 * A ratio as `0.93x`.
 *
 * @since 0.1.0
 */
export const ratio = (value: number): string => Number.isFinite(value) ? `${value.toFixed(2)}x` : "n/a"

/**
 * `1 round`, `5 rounds`.
 *
 * @since 0.1.0
 */
export const plural = (count: number, noun: string): string => `${fmt(count)} ${noun}${count === 1 ? "" : "s"}`
