import { assert, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

// The benchmark is a program: this test runs its quick mode as a user would, in a child process,
// and checks that every scenario ran and produced figures. It never judges a timing figure: those
// depend on the machine, and a target missed is a finding for RESULTS.md, not a test failure.

const root = Path.resolve(import.meta.dirname, "..", "..")
const tsx = Path.join(root, "node_modules", ".bin", "tsx")
const results = Path.join(root, "bench", "RESULTS.md")

interface Run {
  readonly code: number | null
  readonly output: string
}

const quickRun = (args: ReadonlyArray<string>) =>
  Effect.async<Run>((resume) => {
    const child = ChildProcess.spawn(tsx, [Path.join(root, "bench", "run.ts"), "--quick", ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => output += chunk)
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => output += chunk)
    child.on("error", (error) => resume(Effect.die(error)))
    child.on("close", (code) => resume(Effect.succeed({ code, output })))
    return Effect.sync(() => void child.kill())
  })

const modified = (file: string): number | undefined => Fs.existsSync(file) ? Fs.statSync(file).mtimeMs : undefined

interface Report {
  readonly results: ReadonlyArray<{
    readonly id: string
    readonly tables: ReadonlyArray<{ readonly headers: ReadonlyArray<string>; readonly rows: ReadonlyArray<unknown> }>
    readonly targets: ReadonlyArray<{ readonly target: string; readonly met: unknown; readonly figure: string }>
    readonly figures: Record<string, unknown>
  }>
  readonly failures: ReadonlyArray<unknown>
}

describe("npm run bench -- --quick", () => {
  it.live(
    "runs every scenario, reports every figure and target, and leaves RESULTS.md alone",
    () =>
      Effect.gen(function*() {
        const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-auth-bench-"))
        const json = Path.join(directory, "results.json")
        const markdown = Path.join(directory, "RESULTS.md")
        const published = modified(results)

        const { code, output } = yield* quickRun(["--json", json, "--out", markdown])
        expect(code, output).toBe(0)

        const report = JSON.parse(Fs.readFileSync(json, "utf8")) as Report
        expect(report.failures).toEqual([])
        expect(report.results.map((result) => result.id)).toEqual(["1", "2", "3", "4", "5"])
        for (const result of report.results) {
          expect(result.tables.length, `scenario ${result.id}`).toBeGreaterThan(0)
          for (const table of result.tables) {
            expect(table.rows.length, `scenario ${result.id}`).toBeGreaterThan(0)
            for (const row of table.rows) {
              assert.isArray(row)
              expect(row).toHaveLength(table.headers.length)
            }
          }
          const figures = Object.entries(result.figures)
          expect(figures.length, `scenario ${result.id}`).toBeGreaterThan(0)
          for (const [name, value] of figures) {
            assert.isNumber(value, `${result.id}: ${name}`)
            expect(Number.isFinite(value), `${result.id}: ${name} = ${value}`).toBe(true)
          }
          expect(result.targets.length, `scenario ${result.id}`).toBeGreaterThan(0)
          for (const target of result.targets) {
            assert.isBoolean(target.met, target.target)
            expect(target.figure).not.toBe("")
          }
        }
        // The original seven targets and the five performance ones (login CPU, idle heap, timer
        // order, size, and metrics and `changes` left out of the bundle), each with a verdict.
        const targets = report.results.flatMap((result) => result.targets)
        expect(targets).toHaveLength(12)
        // Whether a bundler drops what is unused does not depend on the machine: it must hold.
        expect(targets.find((target) => target.target.includes("dropped from that bundle"))?.met).toBe(true)

        const text = Fs.readFileSync(markdown, "utf8")
        expect(text).toContain("## Machine")
        expect(text).toContain("Quick run")
        for (const title of ["## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## Scaling", "## Closing note"]) {
          expect(text).toContain(title)
        }
        expect(Fs.readFileSync(Path.join(directory, "scaling.svg"), "utf8")).toContain("<svg")
        // A quick run never overwrites the published figures.
        expect(modified(results)).toBe(published)
        Fs.rmSync(directory, { recursive: true, force: true })
      }),
    // A guard against a hang: the quick run takes under a minute alone, and up to twice that
    // while other test files run beside it.
    240_000
  )
})
