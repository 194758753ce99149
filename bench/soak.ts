/**
 * `npm run soak`: the multi-process soak of `@effect-auth/redis` (see `soak/Soak.ts`), a normal
 * run and one run per fault, written to `bench/SOAK.md`. `npm run soak -- --short` runs the short
 * form the tests run.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Soak from "./soak/Soak.js"

const short = process.argv.includes("--short")
const base = {
  processes: 8,
  lifetime: 2_000,
  duration: short ? 8_000 : 20_000,
  faultAt: short ? 3_000 : 6_000,
  partitionFor: 5_000
}
const faults: ReadonlyArray<Soak.Fault> = ["none", "kill-holder", "partition", "redis-restart"]

const main = Effect.gen(function*() {
  const results: Array<Soak.Result> = []
  const loads: Array<string> = []
  for (const fault of faults) {
    // Other work on the machine delays the processes' event loops, which shows in the figures.
    loads.push(`${fault} ${Os.loadavg()[0].toFixed(1)}`)
    const result = yield* Soak.run({ ...base, fault })
    console.log(Soak.table([result]).split("\n")[2])
    results.push(result)
  }
  const notes = results.flatMap((r) => r.notes.map((note) => `- ${r.options.fault}: ${note}`))
  const failures = results.flatMap((r) =>
    Object.entries(r.failures).map(([why, count]) => `- ${r.options.fault}: ${count} x ${why}`)
  )
  const text = [
    "# Soak: many processes, one identity, one Redis",
    "",
    "Written by `npm run soak` (bench/soak.ts); do not edit by hand. " +
    `${base.processes} Node processes, each with its own Occam session for one identity, share one Redis ` +
    "(`@effect-auth/redis`, encrypted, lease TTL 2 s) and one fake Occam on a port that rotates refresh " +
    `tokens and rejects reuse; access tokens live ${base.lifetime} ms; every process calls the protected ` +
    `route from 2 callers, each pausing 100 ms between requests, for ${
      base.duration / 1000
    } s. Counted at the fake: token expiries ` +
    "(issued access tokens whose lifetime ended during the run), refreshes and logins sent, reuse rejections " +
    "(a refresh presenting a used or unknown refresh token), protected requests carrying an expired token; " +
    "counted by the processes: caller requests that did not end in a 200 (after the session's one retry on 401).",
    "",
    `Machine: ${Os.cpus().length} x ${Os.cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${
      new Date().toISOString()
    }; load average (1 min) at the start of each run: ${loads.join(", ")}. Command: \`npm run soak${
      short ? " -- --short" : ""
    }\`.`,
    "",
    Soak.table(results),
    "",
    "Targets: one refresh per expiry, 0 reuse rejections, 0 expired-token requests, 0 failed caller requests. " +
    `Faults start ${base.faultAt / 1000} s into the run.`,
    "",
    "What happened:",
    "",
    ...(notes.length === 0 ? ["- nothing to note"] : notes),
    ...(failures.length === 0 ? [] : ["", "Failed caller requests by cause:", "", ...failures]),
    ""
  ].join("\n")
  Fs.writeFileSync(Path.join(import.meta.dirname, "SOAK.md"), text)
  console.log(text)
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exit(1)
})
