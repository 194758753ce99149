/**
 * Scenario 4, the scale of idle sessions:
 *
 * - heap bytes per idle session with its proactive refresh scheduled, measured in a child process
 *   with `--expose-gc` (see `idle.ts`);
 * - for many sessions whose tokens all expire at the same instant, the largest number of token
 *   requests the server sees in flight at once, on the real clock: the tokens expire a few seconds
 *   after the sessions are made, with a short skew and jitter, and the run waits for every session
 *   to have refreshed once. The same without jitter shows what jitter prevents.
 *
 * @since 0.1.0
 */
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Undici from "undici"
import * as Ours from "../ours.js"
import * as Peers from "../peers.js"
import type * as Scenario from "../scenario.js"
import type { Stats } from "../server.js"
import { fmt, type LoadFigures, median, rotate, runLoad, settle, sleep } from "../stats.js"
import * as Idle from "./idle.js"

// The longest lead (skew + jitter) must stay under half the lifetime, where the session clamps it.
const lifetimeMs = 4_500
const skewMs = 1_000
const holdMs = 20

interface Spread {
  readonly label: string
  readonly sessions: number
  readonly jitterMs: number
  readonly stats: Stats
  readonly windowMs: number
}

const spread = async (
  context: Scenario.Context,
  label: string,
  sessions: number,
  jitterMs: number,
  bare = false
): Promise<Spread> => {
  await context.server.config({ lifetime: 3600, holdMs })
  // No cap on connections: the server must see every request the sessions send at once.
  const dispatcher = new Undici.Agent()
  const runtime = ManagedRuntime.make(Ours.transportLayer("undici", dispatcher, Infinity))
  const scope = await runtime.runPromise(Scope.make())
  try {
    const endpoint = await runtime.runPromise(
      Endpoint.makeClient({ baseUrl: context.server.authUrl, provider: "bench" })
    )
    const httpClient = await runtime.runPromise(HttpClient.HttpClient)
    const login = bare ? Ours.bareLogin(httpClient, context.server.authUrl) : undefined
    const expiresAt = Date.now() + lifetimeMs
    await context.server.reset()
    await runtime.runPromise(
      Effect.forEach(Array.from({ length: sessions }, (_, i) => i), (i) =>
        Ours.makeSession(context.server.authUrl, {
          endpoint,
          key: `spread-${i}`,
          lazyLogin: true,
          ...(login === undefined ? {} : { login }),
          initial: TokenSet.fromExpiresAt({ accessToken: Redacted.make(`initial-${i}`), expiresAt }),
          skew: `${skewMs} millis`,
          jitter: `${jitterMs} millis`
        })).pipe(Scope.extend(scope))
    )
    const deadline = expiresAt + 2_000
    let stats = await context.server.stats()
    while (stats.tokenRequests < sessions && Date.now() < deadline) {
      await sleep(100)
      stats = await context.server.stats()
    }
    await sleep(holdMs * 2)
    stats = await context.server.stats()
    return { label, sessions, jitterMs, stats, windowMs: stats.lastTokenAt - stats.firstTokenAt }
  } finally {
    await runtime.runPromise(Scope.close(scope, Exit.void))
    await runtime.dispose()
    await dispatcher.close()
    await context.server.config({ holdMs: 0 })
  }
}

interface LoginRate {
  readonly name: string
  readonly perSecond: number
}

// How many logins a second the client can send, at a concurrency of 16 with the token endpoint
// answering at once: the client's CPU per login sets the rate.
const loginRates = async (context: Scenario.Context, total: number): Promise<ReadonlyArray<LoginRate>> => {
  await context.server.config({ lifetime: 3600, holdMs: 0 })
  const dispatcher = new Undici.Agent()
  const runtime = ManagedRuntime.make(Ours.transportLayer("undici", dispatcher, Infinity))
  try {
    const endpoint = await runtime.runPromise(
      Endpoint.makeClient({ baseUrl: context.server.authUrl, provider: "bench" })
    )
    const httpClient = await runtime.runPromise(HttpClient.HttpClient)
    const candidates: ReadonlyArray<readonly [string, () => Promise<LoadFigures>]> = [
      [
        "effect-auth login through `Endpoint`",
        () => runtime.runPromise(Ours.load(total, 16, Effect.as(Effect.orDie(Ours.login(endpoint)), true)))
      ],
      [
        "the same request straight through @effect/platform `HttpClient` (diagnostic)",
        () =>
          runtime.runPromise(Ours.load(total, 16, Effect.as(Ours.bareLogin(httpClient, context.server.authUrl), true)))
      ],
      [
        "raw undici `request`",
        () =>
          runLoad(total, 16, async () => {
            await Peers.fetchToken(dispatcher, context.server.authUrl)
            return true
          })
      ]
    ]
    const rates = new Map<string, Array<number>>(candidates.map(([name]) => [name, []]))
    for (const [, measure] of candidates) await measure()
    for (let round = 0; round < 3; round++) {
      for (const [name, measure] of rotate(candidates, round)) {
        await settle()
        rates.get(name)?.push((await measure()).perSecond)
      }
    }
    return candidates.map(([name]) => ({ name, perSecond: median(rates.get(name) ?? []) }))
  } finally {
    await runtime.dispose()
    await dispatcher.close()
  }
}

/**
 * @since 0.1.0
 */
export const run = async (context: Scenario.Context): Promise<Scenario.Result> => {
  const idleCount = context.quick ? 2_000 : 10_000
  const spreadCount = context.quick ? 200 : 1_000
  const jitterMs = 1_000

  context.log(`  heap of ${fmt(idleCount)} idle sessions (child process with --expose-gc)`)
  const idle = await Idle.measure(idleCount)
  context.log(`  ${fmt(spreadCount)} sessions expiring together, jitter ${jitterMs} ms`)
  // The headline row is the median of a few runs: how many pile up depends on how busy the client is.
  const spreadRounds = context.quick ? 1 : 3
  const jitteredRuns: Array<Spread> = []
  for (let round = 0; round < spreadRounds; round++) {
    jitteredRuns.push(await spread(context, "login through `Endpoint`", spreadCount, jitterMs))
    context.log(`    run ${round + 1}/${spreadRounds}: ${fmt(jitteredRuns[round].stats.maxInFlight)} in flight at most`)
  }
  const inFlight = jitteredRuns.map((_) => _.stats.maxInFlight)
  const jittered = [...jitteredRuns].sort((a, b) => a.stats.maxInFlight - b.stats.maxInFlight)[
    Math.floor((jitteredRuns.length - 1) / 2)
  ]
  // The other rows take seconds of real time each: the quick run skips them.
  const others: Array<Spread> = []
  if (!context.quick) {
    context.log(`  ${fmt(spreadCount)} sessions expiring together, no jitter`)
    others.push(await spread(context, "login through `Endpoint`", spreadCount, 0))
    context.log(`  ${fmt(spreadCount)} sessions expiring together, jitter ${jitterMs} ms, login without Endpoint`)
    others.push(
      await spread(context, "login straight through `HttpClient` (diagnostic)", spreadCount, jitterMs, true)
    )
  }
  const unjittered = others[0]
  const bare = others[1]
  context.log("  logins per second the client can send")
  const rates = await loginRates(context, context.quick ? 300 : 2_000)
  const endpointRate = rates[0].perSecond
  const bareRate = rates[1].perSecond

  const kb = (bytes: number) => `${fmt(bytes)} B (${fmt(bytes / 1024, 2)} KB)`
  const allowed = spreadCount / 10
  return {
    id: "4",
    title: "Scale of idle sessions",
    method: `Heap: a child process (\`node --expose-gc --import tsx bench/scenarios/idle.ts\`) builds ` +
      `${fmt(idleCount)} of each item and compares \`heapUsed\` after full collections before and after; each ` +
      `session holds its own token, valid for an hour, so its proactive refresh is scheduled. Spread: ` +
      `${fmt(spreadCount)} sessions are made with tokens that all expire at the same instant, ` +
      `${lifetimeMs / 1000} s later, skew ${skewMs} ms; the token endpoint answers after ${holdMs} ms; the ` +
      `server records the most token requests in flight at once until every session has refreshed.`,
    tables: [
      {
        title: `Heap per item, ${fmt(idleCount)} items`,
        headers: ["Item", "Heap per item"],
        rows: [
          [
            "effect-auth session as the provider sessions build it (login built when it runs, own token)",
            kb(idle.session)
          ],
          ["effect-auth session holding a login effect built up front", kb(idle.sessionEagerLogin)],
          ["effect-auth session, each in a scope of its own", kb(idle.sessionOwnScope)],
          ["  of which: the session's own structures (alarm, cell, state)", kb(idle.sessionMachinery)],
          ["  of which: a `TokenSet`", kb(idle.tokenSet)],
          ["    of which: its two secrets (strings in `Redacted`)", kb(idle.secrets)],
          ["  of which: a login effect built up front (`Endpoint` client `execute`)", kb(idle.loginEffect)],
          ["@badgateway/oauth2-client OAuth2Fetch with its token and refresh timer", kb(idle.badgateway)]
        ]
      },
      {
        title: `${fmt(spreadCount)} sessions whose tokens expire at the same instant`,
        headers: ["Jitter", "Login", "Token requests", "Most in flight at once", "Spread of the requests (ms)"],
        rows: [jittered, ...others].map((_) => [
          `${fmt(_.jitterMs)} ms`,
          _ === jittered && spreadRounds > 1
            ? `${_.label} (median of ${spreadRounds} runs; most in flight per run: ${
              inFlight.map((n) => fmt(n)).join(", ")
            })`
            : _.label,
          fmt(_.stats.tokenRequests),
          fmt(_.stats.maxInFlight),
          fmt(_.windowMs)
        ])
      },
      {
        title: "What one login costs the client: logins per second at concurrency 16, token endpoint answering at once",
        headers: ["Login", "Logins/s (median of 3)", "Client time per login (µs)"],
        rows: rates.map((_) => [_.name, fmt(_.perSecond), fmt(1e6 / _.perSecond)])
      }
    ],
    targets: [
      {
        target: "(4) at most 2 KB of heap per idle session",
        met: idle.session <= 2048,
        figure: `${kb(idle.session)} per session as the provider sessions build it (session structures ` +
          `${kb(idle.sessionMachinery)}, token ${kb(idle.tokenSet)})`,
        gap: `The session's own structures take ${kb(idle.sessionMachinery)} and its token set ` +
          `${kb(idle.tokenSet)}, of which the two secrets are ${kb(idle.secrets)}. A login effect built up front ` +
          `would add ${kb(idle.loginEffect)} per session (${kb(idle.sessionEagerLogin)} in all), which is why the ` +
          `provider sessions build theirs when it runs. What remains is the session's alarm, cell, state and ` +
          `scope entries, and the provider context each session captures.`
      },
      {
        target: `(4) no more than 1/10 of the sessions refresh at once (${fmt(allowed)} of ${fmt(spreadCount)})`,
        met: jittered.stats.maxInFlight <= allowed && jittered.stats.tokenRequests >= spreadCount,
        gap: `The jitter spreads the refreshes as intended: the sessions start their requests evenly over ` +
          `${fmt(jittered.windowMs)} ms` +
          (bare === undefined
            ? ""
            : `, and with a login sent straight through \`HttpClient\` the server sees at most ` +
              `${fmt(bare.stats.maxInFlight)} at once`) +
          `. What piles them up is the client's CPU: a login through \`Endpoint\` costs about ` +
          `${fmt(1e6 / endpointRate)} µs of client time (${fmt(endpointRate)} logins/s at most) against ` +
          `${fmt(1e6 / bareRate)} µs for the same request through the bare HttpClient, so ${fmt(spreadCount)} ` +
          `refreshes in about a second saturate the client and queue in it. The extra work is in ` +
          `\`Endpoint.execute\`: the body is read through an Effect \`Stream\` fold (to cap its size; the largest ` +
          `part), each attempt runs under \`Effect.timeoutFail\` inside a retry \`Schedule\` and a span, and the ` +
          `body is decoded with Schema. Reading a body whose content-length is under the cap with ` +
          `\`response.text\` would remove the largest part; a wider jitter (the default is 30 s) spreads the ` +
          `same load over more time.`,
        figure: `${fmt(jittered.stats.maxInFlight)} in flight at most with ${fmt(jitterMs)} ms jitter ` +
          (spreadRounds > 1 ? `(median of ${spreadRounds} runs: ${inFlight.map((n) => fmt(n)).join(", ")}) ` : "") +
          `(${fmt(jittered.stats.tokenRequests)} refreshes over ${fmt(jittered.windowMs)} ms)` +
          (unjittered === undefined ? "" : `; ${fmt(unjittered.stats.maxInFlight)} without jitter`)
      }
    ],
    notes: [
      `How many refreshes pile up depends on the client's CPU, so it varies from run to run: a login through ` +
      `\`Endpoint\` costs about ${fmt(1e6 / endpointRate)} µs of client time, so ${fmt(spreadCount)} refreshes ` +
      `within ${fmt(jitterMs)} ms keep the client about ${
        fmt(Math.min(100, (spreadCount * 1e6 / endpointRate) / (jitterMs * 10)))
      }% ` +
      `busy, and requests queue in it when it falls behind; the bare HttpClient login costs ` +
      `${fmt(1e6 / bareRate)} µs.`,
      "badgateway arms one `setTimeout` per `OAuth2Fetch`, 60 s before expiry, with no jitter (and only for " +
      "tokens living more than 2 minutes): sessions whose tokens expire together refresh together, as the " +
      "no-jitter row shows for effect-auth."
    ],
    figures: {
      "heap per session": idle.session,
      "heap per session, login built up front": idle.sessionEagerLogin,
      "heap per session, own scope": idle.sessionOwnScope,
      "heap per session structures": idle.sessionMachinery,
      "heap per token set": idle.tokenSet,
      "heap per login effect": idle.loginEffect,
      "heap per badgateway OAuth2Fetch": idle.badgateway,
      "max in flight, jitter": jittered.stats.maxInFlight,
      "max in flight, jitter, worst run": Math.max(...inFlight),
      "refreshes, jitter": jittered.stats.tokenRequests,
      ...(unjittered === undefined ? {} : {
        "max in flight, no jitter": unjittered.stats.maxInFlight,
        "refreshes, no jitter": unjittered.stats.tokenRequests
      }),
      ...(bare === undefined ? {} : { "max in flight, jitter, login without Endpoint": bare.stats.maxInFlight })
    }
  }
}
