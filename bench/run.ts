/**
 * `npm run bench`: effect-auth side by side with the libraries its users would pick instead, every
 * scenario in one run against one token server, written to `bench/RESULTS.md`.
 *
 * ```sh
 * npm run bench                      # the full run (a few minutes), writes bench/RESULTS.md
 * npm run bench -- --quick           # every scenario with small counts, under a minute; writes nothing
 * npm run bench -- --only 2,3        # some scenarios
 * npm run bench -- --out FILE        # the Markdown report to FILE (also in quick mode)
 * npm run bench -- --json FILE       # every figure and verdict as JSON
 * ```
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Chart from "./chart.js"
import type * as Scenario from "./scenario.js"
import * as Hot from "./scenarios/hotPath.js"
import * as Overhead from "./scenarios/overhead.js"
import * as Scale from "./scenarios/scale.js"
import * as Size from "./scenarios/size.js"
import * as Stampede from "./scenarios/stampede.js"
import * as Server from "./server.js"

const scenarios: ReadonlyArray<{
  readonly id: string
  readonly title: string
  readonly run: (context: Scenario.Context) => Promise<Scenario.Result>
}> = [
  { id: "1", title: "Authenticated request overhead", run: Overhead.run },
  { id: "2", title: "Refresh stampede", run: Stampede.run },
  { id: "3", title: "Cached-token hot path", run: Hot.run },
  { id: "4", title: "Scale of idle sessions", run: Scale.run },
  { id: "5", title: "Size", run: Size.run }
]

interface Arguments {
  readonly quick: boolean
  readonly only: ReadonlyArray<string> | undefined
  readonly out: string | undefined
  readonly json: string | undefined
}

const parse = (argv: ReadonlyArray<string>): Arguments => {
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(name)
    const inline = argv.find((arg) => arg.startsWith(`${name}=`))
    return inline !== undefined ? inline.slice(name.length + 1) : index >= 0 ? argv[index + 1] : undefined
  }
  const quick = argv.includes("--quick")
  const only = value("--only")?.split(",").map((id) => id.trim())
  return {
    quick,
    only,
    // The published results come from a full run of every scenario only.
    out: value("--out") ?? (quick || only !== undefined ? undefined : Path.join(import.meta.dirname, "RESULTS.md")),
    json: value("--json")
  }
}

interface Failure {
  readonly id: string
  readonly title: string
  readonly error: string
}

interface Report {
  readonly machine: Record<string, string>
  readonly command: string
  readonly quick: boolean
  readonly results: ReadonlyArray<Scenario.Result>
  readonly failures: ReadonlyArray<Failure>
}

const machine = (): Record<string, string> => {
  const cpus = Os.cpus()
  return {
    CPU: cpus[0]?.model.trim() ?? "unknown",
    Cores: String(cpus.length),
    Memory: `${(Os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    OS: `${Os.type()} ${Os.release()} (${Os.arch()})`,
    Node: process.version,
    Date: new Date().toISOString()
  }
}

const cell = (text: string): string => text.replaceAll("|", "\\|")

const table = (t: Scenario.Table): string =>
  [
    ...(t.title === undefined ? [] : [`**${t.title}**`, ""]),
    `| ${t.headers.map(cell).join(" | ")} |`,
    `| ${t.headers.map((_, i) => i === 0 ? "---" : "---:").join(" | ")} |`,
    ...t.rows.map((row) => `| ${row.map(cell).join(" | ")} |`)
  ].join("\n")

/** The file the scaling chart is written to, beside the Markdown report. */
const chartFile = "scaling.svg"

const charts = (report: Report): ReadonlyArray<Scenario.Chart> =>
  report.results.flatMap((result) => result.scaling === undefined ? [] : [result.scaling])

const scalingSection = (report: Report): ReadonlyArray<string> => {
  const all = charts(report)
  if (all.length === 0) return []
  return [
    "## Scaling",
    "",
    "How each cost grows with scale: the expired-token stampede (section 2) at each number of callers, one " +
    "run each, client CPU per caller; idle sessions (section 4) at each number of sessions, heap per session " +
    "(each count in a fresh child process). Flat lines mean a constant cost per caller or session.",
    "",
    ...all.flatMap((chart) => {
      const scales = Array.from(new Set(chart.series.flatMap((line) => line.points.map(([x]) => x))))
      return [
        table({
          title: `${chart.title} (${chart.unit})`,
          headers: ["Library", ...scales.map((x) => `${x.toLocaleString("en-US")} ${chart.xLabel}`)],
          rows: chart.series.map((line) => [
            line.name,
            ...scales.map((x) => {
              const y = line.points.find(([px]) => px === x)?.[1]
              return y === undefined ? "" : y.toLocaleString("en-US", { maximumFractionDigits: y < 100 ? 2 : 0 })
            })
          ])
        }),
        ""
      ]
    }),
    `![Cost per caller and per session against scale, one line per library](${chartFile})`,
    ""
  ]
}

const markdown = (report: Report): string => {
  const targets = report.results.flatMap((result) => result.targets)
  const missed = report.results.flatMap((result) =>
    result.targets.filter((target) => !target.met).map((target) => ({ result, target }))
  )
  return [
    "# Benchmarks",
    "",
    `Written by \`${report.command}\` (bench/run.ts); do not edit by hand. effect-auth is measured beside the ` +
    "libraries its users would pick instead: raw `undici` as the floor, " +
    "`@badgateway/oauth2-client`, `axios` with `axios-auth-refresh`, and `oauth4webapi` for size. Every " +
    "client talks to the same token server (plain `node:http` in a child process, two ports: an " +
    "authorization server and a resource server). Timing figures depend on the machine below; the tests " +
    "never assert them.",
    ...(report.quick
      ? ["", "**Quick run: small counts, one round. These figures prove the code runs, nothing more.**"]
      : []),
    "",
    "## Machine",
    "",
    "| | |",
    "| --- | --- |",
    ...Object.entries(report.machine).map(([key, value]) => `| ${key} | ${cell(value)} |`),
    `| Command | \`${report.command}\` |`,
    "",
    "## Targets",
    "",
    "| Target | Verdict | Figure |",
    "| --- | --- | --- |",
    ...targets.map((target) =>
      `| ${cell(target.target)} | ${target.met ? "met" : "**not met**"} | ${cell(target.figure)} |`
    ),
    ...report.failures.map((failure) =>
      `| (${failure.id}) ${failure.title} | **did not run** | ${cell(failure.error)} |`
    ),
    "",
    ...report.results.flatMap((result) => [
      `## ${result.id}. ${result.title}`,
      "",
      result.method,
      "",
      ...result.tables.flatMap((t) => [table(t), ""]),
      ...result.notes.flatMap((note) => [`- ${note}`]),
      ...(result.notes.length > 0 ? [""] : [])
    ]),
    ...scalingSection(report),
    "## Closing note",
    "",
    ...(missed.length === 0 && report.failures.length === 0
      ? ["Every target is met."]
      : [
        ...missed.flatMap(({ result, target }) => [
          `- **${target.target}**: ${target.figure}. ${target.gap ?? `See section ${result.id}.`}`
        ]),
        ...report.failures.map((failure) => `- Scenario ${failure.id} did not run: ${failure.error}`)
      ]),
    ""
  ].join("\n")
}

const main = async (): Promise<number> => {
  const args = parse(process.argv.slice(2))
  const command = ["npm run bench", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" ")
  const selected = scenarios.filter((scenario) => args.only === undefined || args.only.includes(scenario.id))
  const log = (line: string) => console.log(line)
  const server = await Server.start()
  const context: Scenario.Context = { server, quick: args.quick, log }
  const results: Array<Scenario.Result> = []
  const failures: Array<Failure> = []
  const startedAt = performance.now()
  try {
    for (const scenario of selected) {
      log(`\n${scenario.id}. ${scenario.title}${args.quick ? " (quick)" : ""}`)
      const scenarioStartedAt = performance.now()
      try {
        results.push(await scenario.run(context))
      } catch (error) {
        const message = error instanceof Error ? error.stack ?? error.message : String(error)
        log(`  failed: ${message}`)
        failures.push({ id: scenario.id, title: scenario.title, error: message.split("\n")[0] })
      }
      log(`  (${((performance.now() - scenarioStartedAt) / 1000).toFixed(1)} s)`)
    }
  } finally {
    await server.stop()
  }

  const report: Report = { machine: machine(), command, quick: args.quick, results, failures }
  log(`\nTargets (${((performance.now() - startedAt) / 1000).toFixed(1)} s in all)`)
  for (const target of results.flatMap((result) => result.targets)) {
    log(`  ${target.met ? "met    " : "NOT MET"} ${target.target}: ${target.figure}`)
  }
  for (const failure of failures) log(`  FAILED  scenario ${failure.id}: ${failure.error}`)
  if (args.out !== undefined) {
    Fs.writeFileSync(args.out, markdown(report))
    log(`\nWrote ${Path.relative(process.cwd(), args.out)}`)
    if (charts(report).length > 0) {
      const file = Path.join(Path.dirname(args.out), chartFile)
      Fs.writeFileSync(file, Chart.svg(charts(report)))
      log(`Wrote ${Path.relative(process.cwd(), file)}`)
    }
  }
  if (args.json !== undefined) {
    Fs.writeFileSync(args.json, JSON.stringify(report, null, 2))
    log(`Wrote ${Path.relative(process.cwd(), args.json)}`)
  }
  return failures.length === 0 ? 0 : 1
}

// Exit even if a peer left a timer or a socket behind.
process.exit(await main())
