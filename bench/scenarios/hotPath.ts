/**
 * Scenario 3, the cached-token hot path: the cost of asking for the token while the one held is
 * valid, with no I/O at all.
 *
 * - effect-auth: `yield* session.token` N times in one `Effect.gen` loop (one fiber), divided by N;
 *   the same loop over `Effect.void` is the runtime's own floor for one step; and the cost of one
 *   `Effect.runSync(session.token)` and one `Effect.runPromise(session.token)` per call, which is
 *   what code outside Effect pays.
 * - badgateway: `await fetcher.getToken()` and `await fetcher.getAccessToken()` N times in an async
 *   loop. axios-auth-refresh and oauth4webapi keep no token, so they have no such call.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import * as Undici from "undici"
import * as Ours from "../ours.js"
import * as Peers from "../peers.js"
import type * as Scenario from "../scenario.js"
import { fmt, median, plural, rotate, settle } from "../stats.js"

interface Candidate {
  readonly name: string
  /** Nanoseconds per call, over `iterations` calls. */
  readonly measure: (iterations: number) => Promise<number>
}

const nanosPerCall = (startedAt: bigint, iterations: number): number =>
  Number(process.hrtime.bigint() - startedAt) / iterations

/**
 * @since 0.1.0
 */
export const run = async (context: Scenario.Context): Promise<Scenario.Result> => {
  const iterations = context.quick ? 100_000 : 1_000_000
  const rounds = context.quick ? 3 : 5
  const dispatcher = new Undici.Agent()
  const previous = Undici.getGlobalDispatcher()
  Undici.setGlobalDispatcher(dispatcher)
  await context.server.config({ lifetime: 3600, holdMs: 0 })

  // A session and a wrapper that hold a valid token, built once and kept open for every round.
  const runtime = ManagedRuntime.make(Ours.transportLayer("undici", dispatcher, 64))
  const scope = await runtime.runPromise(Scope.make())
  const session = await runtime.runPromise(Scope.extend(Ours.makeSession(context.server.authUrl), scope))
  await runtime.runPromise(Effect.orDie(session.token))
  const { fetcher } = Peers.badgateway(context.server.authUrl)
  await fetcher.getToken()

  const token = session.token
  const candidates: ReadonlyArray<Candidate> = [
    {
      name: "effect-auth `yield* session.token` in an Effect.gen loop",
      measure: (n) =>
        Effect.runPromise(
          Effect.gen(function*() {
            const startedAt = process.hrtime.bigint()
            for (let i = 0; i < n; i++) yield* token
            return nanosPerCall(startedAt, n)
          }).pipe(Effect.orDie)
        )
    },
    {
      name: "(reference) `yield* Effect.void` in the same loop",
      measure: (n) =>
        Effect.runPromise(Effect.gen(function*() {
          const startedAt = process.hrtime.bigint()
          for (let i = 0; i < n; i++) yield* Effect.void
          return nanosPerCall(startedAt, n)
        }))
    },
    {
      name: "effect-auth `Effect.runSync(session.token)` per call",
      measure: async (n) => {
        const startedAt = process.hrtime.bigint()
        for (let i = 0; i < n; i++) Effect.runSync(token)
        return nanosPerCall(startedAt, n)
      }
    },
    {
      name: "effect-auth `await Effect.runPromise(session.token)` per call",
      measure: async (n) => {
        const startedAt = process.hrtime.bigint()
        for (let i = 0; i < n; i++) await Effect.runPromise(token)
        return nanosPerCall(startedAt, n)
      }
    },
    {
      name: "@badgateway/oauth2-client `await fetcher.getToken()`",
      measure: async (n) => {
        const startedAt = process.hrtime.bigint()
        for (let i = 0; i < n; i++) await fetcher.getToken()
        return nanosPerCall(startedAt, n)
      }
    },
    {
      name: "@badgateway/oauth2-client `await fetcher.getAccessToken()`",
      measure: async (n) => {
        const startedAt = process.hrtime.bigint()
        for (let i = 0; i < n; i++) await fetcher.getAccessToken()
        return nanosPerCall(startedAt, n)
      }
    }
  ]

  const results = new Map<string, Array<number>>(candidates.map((candidate) => [candidate.name, []]))
  try {
    // Warm-up: the JIT sees every loop before anything is recorded.
    for (const candidate of candidates) await candidate.measure(Math.min(iterations, 100_000))
    for (let round = 0; round < rounds; round++) {
      for (const candidate of rotate(candidates, round)) {
        await settle()
        // `runPromise` per call is far slower: a tenth of the calls keeps the round short.
        const n = candidate.name.includes("runPromise") ? iterations / 10 : iterations
        results.get(candidate.name)?.push(await candidate.measure(n))
      }
      context.log(`  round ${round + 1}/${rounds} done`)
    }
  } finally {
    await runtime.runPromise(Scope.close(scope, Exit.void))
    await runtime.dispose()
    Undici.setGlobalDispatcher(previous)
    await dispatcher.close()
  }

  const summary = candidates.map((candidate) => {
    const values = results.get(candidate.name) ?? []
    return { name: candidate.name, median: median(values), min: Math.min(...values), max: Math.max(...values) }
  })
  const ours = summary[0].median
  const floor = summary[1].median
  const badgateway = summary[4].median
  return {
    id: "3",
    title: "Cached-token hot path",
    method: `Each figure is nanoseconds per call over ${fmt(iterations)} calls (a tenth of that for ` +
      `\`runPromise\`), on a session holding a valid token, no I/O. ${plural(rounds, "round")} after a warm-up, ` +
      `candidates rotated; median and range over the rounds.`,
    tables: [{
      headers: ["Call", "ns per call (median)", "min-max"],
      rows: [
        ...summary.map((_) => [_.name, fmt(_.median, 1), `${fmt(_.min, 1)}-${fmt(_.max, 1)}`]),
        ["axios-auth-refresh, oauth4webapi", "n/a (they keep no token: the caller does)", ""]
      ]
    }],
    targets: [{
      target: "(3) under 1 microsecond median for `token` on a valid session",
      met: ours < 1000,
      figure: `${fmt(ours, 1)} ns per \`yield* session.token\``
    }],
    notes: [
      `Of the ${fmt(ours, 1)} ns of \`yield* session.token\`, ${fmt(floor, 1)} ns is what any \`yield*\` of an ` +
      `effect costs in that loop (\`Effect.void\`); badgateway's \`await getToken()\` costs ${fmt(badgateway, 1)} ns.`
    ],
    figures: Object.fromEntries(summary.map((_) => [`${_.name} ns`, _.median]))
  }
}
