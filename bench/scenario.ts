/**
 * What every scenario receives and returns: the shared token server and the run mode in, tables
 * and target verdicts out, so `run.ts` can print them and write `RESULTS.md`.
 *
 * @since 0.1.0
 */
import type { TokenServer } from "./server.js"

/**
 * @since 0.1.0
 */
export interface Context {
  readonly server: TokenServer
  /** Small counts, few rounds: proves every scenario runs, measures little. */
  readonly quick: boolean
  readonly log: (line: string) => void
}

/**
 * A table: a header row and rows of cells, already formatted.
 *
 * @since 0.1.0
 */
export interface Table {
  readonly title?: string
  readonly headers: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
}

/**
 * A target of the issue, with the figure it was judged on.
 *
 * @since 0.1.0
 */
export interface Target {
  readonly target: string
  readonly met: boolean
  readonly figure: string
  /** When missed: why, and what would close the gap (for the closing note). */
  readonly gap?: string
}

/**
 * One line of a chart: (scale, cost) points.
 *
 * @since 0.1.0
 */
export interface Series {
  readonly name: string
  readonly points: Array<readonly [number, number]>
}

/**
 * A chart of cost against scale, one line per library (drawn in `chart.ts`).
 *
 * @since 0.1.0
 */
export interface Chart {
  readonly title: string
  readonly unit: string
  readonly xLabel: string
  readonly series: ReadonlyArray<Series>
}

/**
 * @since 0.1.0
 */
export interface Result {
  readonly id: string
  readonly title: string
  /** How it was measured, in a few sentences. */
  readonly method: string
  readonly tables: ReadonlyArray<Table>
  readonly targets: ReadonlyArray<Target>
  /** Observations, including what limits a missed target. */
  readonly notes: ReadonlyArray<string>
  /** The growth of a cost with scale, for the scaling table and chart. */
  readonly scaling?: Chart
  /** Every figure, for the test and for `--json`. */
  readonly figures: Record<string, number>
}
