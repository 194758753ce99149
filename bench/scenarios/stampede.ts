/**
 * Scenario 2, refresh stampede: many callers arrive at once when the token is no longer good, and
 * the token server counts how many token requests each library sends for them.
 *
 * - Expired on the client: the library holds a token whose expiry has passed (loaded as a stored
 *   token), and every caller asks for a token. effect-auth: `session.token`; badgateway:
 *   `OAuth2Fetch.getAccessToken()` (what its `fetch` calls). axios-auth-refresh has no notion of
 *   expiry, so it has no row here.
 * - Rejected by the server: the library holds a token it believes valid, the server has revoked it,
 *   and every caller sends a request, gets a 401 and relies on the library to fetch a new token and
 *   replay. effect-auth: `withSession`; badgateway: `OAuth2Fetch.fetch`; axios: `axios-auth-refresh`.
 *
 * The token endpoint answers after `holdMs`, like a fast real one. Requests share a pool of 64
 * connections per client, so 10,000 requests do not open 10,000 sockets.
 *
 * @since 0.1.0
 */
import type { OAuth2Token } from "@badgateway/oauth2-client"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Undici from "undici"
import * as Ours from "../ours.js"
import * as Peers from "../peers.js"
import type * as Scenario from "../scenario.js"
import { fmt, type LoadFigures, median, plural, rotate, runBurst, settle } from "../stats.js"

const connections = 64
const holdMs = 20

interface Outcome {
  readonly figures: LoadFigures
  readonly tokenRequests: number
  /** How many different access tokens the callers were given (expired mode only). */
  readonly distinctTokens: number
}

interface Candidate {
  readonly name: string
  readonly mode: "expired" | "rejected"
  readonly run: (context: Scenario.Context, callers: number) => Promise<Outcome>
}

const withDispatcher = async <A>(f: (dispatcher: Undici.Dispatcher) => Promise<A>): Promise<A> => {
  const dispatcher = new Undici.Agent({ connections })
  try {
    return await f(dispatcher)
  } finally {
    await dispatcher.close()
  }
}

const count = async (context: Scenario.Context, f: () => Promise<Omit<Outcome, "tokenRequests">>): Promise<Outcome> => {
  await context.server.reset()
  const outcome = await f()
  const stats = await context.server.stats()
  return { ...outcome, tokenRequests: stats.tokenRequests }
}

const oursExpired: Candidate = {
  name: "effect-auth session.token",
  mode: "expired",
  run: (context, callers) =>
    withDispatcher((dispatcher) =>
      Effect.runPromise(
        Effect.gen(function*() {
          const session = yield* Ours.makeSession(context.server.authUrl, { initial: Ours.expiredTokens(Date.now()) })
          const seen = new Set<unknown>()
          const one = Effect.map(session.accessToken, (token) => {
            seen.add(token)
            return true
          }).pipe(Effect.orElseSucceed(() => false))
          const figures = yield* Effect.promise(() =>
            count(
              context,
              () => Effect.runPromise(Ours.burst(callers, one)).then((figures) => ({ figures, distinctTokens: 0 }))
            )
          )
          return { ...figures, distinctTokens: seen.size }
        }).pipe(Effect.scoped, Effect.provide(Ours.transportLayer("undici", dispatcher, connections)))
      )
    )
}

// What forking the callers costs the Effect runtime by itself, whatever they do.
const effectFloor: Candidate = {
  name: "(reference) Effect fibers that do nothing",
  mode: "expired",
  run: (context, callers) =>
    count(
      context,
      () =>
        Effect.runPromise(Ours.burst(callers, Effect.succeed(true))).then((figures) => ({ figures, distinctTokens: 0 }))
    )
}

// What the join would cost at its floor: the callers awaiting one bare `Deferred`, completed after
// the same ${holdMs} ms the token request takes.
const deferredFloor: Candidate = {
  name: "(reference) Effect fibers awaiting one bare `Deferred`",
  mode: "expired",
  run: (context, callers) =>
    count(context, () =>
      Effect.runPromise(Effect.gen(function*() {
        const deferred = yield* Deferred.make<boolean>()
        yield* Effect.fork(Effect.zipRight(Effect.sleep(holdMs), Deferred.succeed(deferred, true)))
        return yield* Ours.burst(callers, Deferred.await(deferred))
      })).then((figures) => ({ figures, distinctTokens: 0 })))
}

const badgatewayExpired: Candidate = {
  name: "@badgateway/oauth2-client getAccessToken()",
  mode: "expired",
  run: (context, callers) =>
    withDispatcher(async (dispatcher) => {
      const previous = Undici.getGlobalDispatcher()
      Undici.setGlobalDispatcher(dispatcher)
      try {
        const stale: OAuth2Token = { accessToken: "stale-token", expiresAt: Date.now() - 1000, refreshToken: null }
        const { fetcher } = Peers.badgateway(context.server.authUrl, stale)
        const seen = new Set<string>()
        return await count(context, async () => {
          const figures = await runBurst(callers, async () => {
            seen.add(await fetcher.getAccessToken())
            return true
          })
          return { figures, distinctTokens: seen.size }
        })
      } finally {
        Undici.setGlobalDispatcher(previous)
      }
    })
}

const oursRejected: Candidate = {
  name: "effect-auth withSession",
  mode: "rejected",
  run: (context, callers) =>
    withDispatcher((dispatcher) =>
      Effect.runPromise(
        Effect.gen(function*() {
          const { client, session } = yield* Ours.makeClient(context.server.authUrl)
          yield* Effect.orDie(session.token)
          yield* Effect.promise(() => context.server.revokeAll())
          const url = `${context.server.apiUrl}/protected`
          const one = client.get(url).pipe(
            Effect.flatMap((response) => Effect.as(response.text, response.status === 200)),
            Effect.orElseSucceed(() => false)
          )
          return yield* Effect.promise(() =>
            count(
              context,
              () => Effect.runPromise(Ours.burst(callers, one)).then((figures) => ({ figures, distinctTokens: 0 }))
            )
          )
        }).pipe(Effect.scoped, Effect.provide(Ours.transportLayer("undici", dispatcher, connections)))
      )
    )
}

const badgatewayRejected: Candidate = {
  name: "@badgateway/oauth2-client OAuth2Fetch.fetch",
  mode: "rejected",
  run: (context, callers) =>
    withDispatcher(async (dispatcher) => {
      const previous = Undici.getGlobalDispatcher()
      Undici.setGlobalDispatcher(dispatcher)
      try {
        const { fetcher } = Peers.badgateway(context.server.authUrl)
        await fetcher.getAccessToken()
        await context.server.revokeAll()
        const one = Peers.badgatewayRequest(fetcher, `${context.server.apiUrl}/protected`)
        return await count(context, async () => ({ figures: await runBurst(callers, one), distinctTokens: 0 }))
      } finally {
        Undici.setGlobalDispatcher(previous)
      }
    })
}

const axiosRejected: Candidate = {
  name: "axios + axios-auth-refresh",
  mode: "rejected",
  run: async (context, callers) => {
    const client = Peers.axiosWithRefresh(context.server.apiUrl, context.server.authUrl, connections)
    try {
      await client.refresh()
      await context.server.revokeAll()
      const one = Peers.axiosRequest(client.instance, "/protected")
      return await count(context, async () => ({ figures: await runBurst(callers, one), distinctTokens: 0 }))
    } finally {
      client.close()
    }
  }
}

/**
 * @since 0.1.0
 */
export const run = async (context: Scenario.Context): Promise<Scenario.Result> => {
  const callers = context.quick ? 1_000 : 10_000
  const rounds = context.quick ? 1 : 3
  const candidates: ReadonlyArray<Candidate> = [
    oursExpired,
    effectFloor,
    deferredFloor,
    badgatewayExpired,
    oursRejected,
    badgatewayRejected,
    axiosRejected
  ]
  const outcomes = new Map<string, Array<Outcome>>(candidates.map((candidate) => [candidate.name, []]))
  await context.server.config({ lifetime: 3600, holdMs })
  for (const candidate of candidates) await candidate.run(context, Math.min(callers, 500))
  for (let round = 0; round < rounds; round++) {
    for (const candidate of rotate(candidates, round)) {
      await settle()
      const outcome = await candidate.run(context, callers)
      outcomes.get(candidate.name)?.push(outcome)
      context.log(
        `  round ${round + 1}/${rounds} ${candidate.name} (${candidate.mode}): ${outcome.tokenRequests} token ` +
          `requests, p99 wait ${fmt(outcome.figures.p99Ms, 1)} ms, ${outcome.figures.errors} failed callers`
      )
    }
  }
  await context.server.config({ holdMs: 0 })

  const summary = candidates.map((candidate) => {
    const runs = outcomes.get(candidate.name) ?? []
    return {
      candidate,
      tokenRequests: median(runs.map((_) => _.tokenRequests)),
      minTokens: Math.min(...runs.map((_) => _.tokenRequests)),
      maxTokens: Math.max(...runs.map((_) => _.tokenRequests)),
      p50Ms: median(runs.map((_) => _.figures.p50Ms)),
      p99Ms: median(runs.map((_) => _.figures.p99Ms)),
      failed: median(runs.map((_) => _.figures.errors)),
      cpuMicros: median(runs.map((_) => _.figures.cpuMicros)),
      distinctTokens: median(runs.map((_) => _.distinctTokens))
    }
  })
  const table = (mode: Candidate["mode"], title: string): Scenario.Table => ({
    title,
    headers: [
      "Library",
      "Token requests (median)",
      "Token requests (min-max)",
      ...(mode === "expired" ? ["Distinct tokens handed out"] : []),
      "Failed callers",
      "p50 wait (ms)",
      "p99 wait (ms)",
      "Client CPU per caller (µs)"
    ],
    rows: summary.filter((_) => _.candidate.mode === mode).map((_) => [
      _.candidate.name,
      fmt(_.tokenRequests),
      `${fmt(_.minTokens)}-${fmt(_.maxTokens)}`,
      ...(mode === "expired" ? [fmt(_.distinctTokens)] : []),
      fmt(_.failed),
      fmt(_.p50Ms, 1),
      fmt(_.p99Ms, 1),
      fmt(_.cpuMicros, 2)
    ])
  })
  const badgatewayRejectedSummary = summary.find((_) => _.candidate === badgatewayRejected)
  const axiosSummary = summary.find((_) => _.candidate === axiosRejected)
  const oursTokens = summary.filter((_) => _.candidate.name.startsWith("effect-auth"))
  const allRuns = [...(outcomes.get(oursExpired.name) ?? []), ...(outcomes.get(oursRejected.name) ?? [])]
  const oursSummary = summary[0]
  const deferredSummary = summary.find((_) => _.candidate === deferredFloor)
  const joinCost = oursSummary.cpuMicros - (deferredSummary?.cpuMicros ?? Number.NaN)
  context.log("  scaling: the stampede at several numbers of callers")
  const scaling = await scale(context, context.quick ? [200, 500] : [1_000, 10_000, 100_000])
  const exactlyOne = allRuns.every((_) => _.tokenRequests === 1 && _.figures.errors === 0)

  return {
    id: "2",
    title: "Refresh stampede",
    method: `${fmt(callers)} callers start at once when the token is no longer good; the server counts the ` +
      `token requests they cause. The token endpoint answers after ${holdMs} ms. Requests go through a pool of ` +
      `${connections} connections per client. Each run builds a fresh client; ${plural(rounds, "round")}, libraries ` +
      `rotated; medians over the rounds (and the range of token requests). Wait: from the start of the burst ` +
      `to the moment each caller has its token (expired) or its response (rejected).`,
    tables: [
      table("expired", "Expired on the client: every caller asks for a token"),
      table("rejected", "Rejected by the server: every caller's request gets a 401 and is replayed")
    ],
    targets: [{
      target: `(2) exactly one token request for ${fmt(callers)} callers`,
      met: exactlyOne,
      figure: oursTokens.map((_) => `${_.candidate.name}: ${fmt(_.minTokens)}-${fmt(_.maxTokens)}`).join("; ") +
        ` token requests over the rounds; ${fmt(allRuns.reduce((sum, _) => sum + _.figures.errors, 0))} failed callers`,
      gap: "Some round sent more than one token request, or failed callers: see the table; the session's " +
        "single flight (`AuthSession` `decide`/`begin`) or `invalidate` let a second request through."
    }],
    notes: [
      `The callers are forked and awaited one by one, as an application's fibers would be (not started with ` +
      `\`Effect.all({ concurrency: "unbounded" })\`, which costs about 2.5x a fork and counted against the ` +
      `library). The join over its floor: ${fmt(oursSummary.cpuMicros, 2)} µs of client CPU per ` +
      `\`session.token\` caller against ${fmt(deferredSummary?.cpuMicros ?? Number.NaN, 2)} µs per caller ` +
      `awaiting a bare \`Deferred\`: ${fmt(joinCost, 2)} µs per caller is the session's.`,
      `Of the ${fmt(summary[0].p99Ms, 1)} ms p99 wait for \`session.token\`, ${fmt(summary[1].p99Ms, 1)} ms is ` +
      `the Effect runtime starting ${fmt(callers)} fibers (the reference row, fibers that do nothing) and about ` +
      `${holdMs} ms the token request; the rest is the join path, each caller suspending on the one request in ` +
      `flight and being resumed when it lands. badgateway's callers are ${fmt(callers)} promises awaiting one.`,
      `In the rejected case every library sends ${fmt(callers)} requests and replays them, through ` +
      `${connections} connections: the wait is set by each client's request rate (section 1), not by the refresh.`,
      ...(badgatewayRejectedSummary !== undefined && badgatewayRejectedSummary.tokenRequests > 1
        ? [
          `badgateway sent ${fmt(badgatewayRejectedSummary.tokenRequests)} token requests (median) for one ` +
          "rejected token: `OAuth2Fetch.refreshToken()` shares a request only while it is in flight, and " +
          "does not check whether the token that got the 401 is still the current one, so a 401 that comes " +
          "back after the refresh settled (for a request sent with the old token) starts another. " +
          "effect-auth's `invalidate(seen)` ignores the rejection of a token it has already replaced."
        ]
        : []),
      ...(axiosSummary !== undefined && axiosSummary.failed > 0
        ? [
          `axios-auth-refresh failed ${fmt(axiosSummary.failed)} of ${fmt(callers)} callers (median): it keeps ` +
          "the instance marked as refreshing until the first caller's replayed request has completed, and " +
          "rejects every 401 that arrives in that window to its caller instead of replaying it " +
          "(Flyrell/axios-auth-refresh#90)."
        ]
        : [])
    ],
    scaling: scaling.series,
    figures: Object.fromEntries([
      ...scaling.figures,
      ...summary.flatMap((_) => [
        [`${_.candidate.name} (${_.candidate.mode}) token requests`, _.tokenRequests],
        [`${_.candidate.name} (${_.candidate.mode}) p99 ms`, _.p99Ms],
        [`${_.candidate.name} (${_.candidate.mode}) failed`, _.failed],
        [`${_.candidate.name} (${_.candidate.mode}) cpu µs per caller`, _.cpuMicros]
      ])
    ])
  }
}

/**
 * The expired-token stampede at each number of callers: client CPU per caller, one run each
 * (after a warm-up at the smallest), for effect-auth, the bare `Deferred` floor and badgateway.
 *
 * @since 0.1.0
 */
const scale = async (context: Scenario.Context, counts: ReadonlyArray<number>) => {
  const libraries = [oursExpired, deferredFloor, badgatewayExpired]
  for (const candidate of libraries) await candidate.run(context, counts[0])
  const series: Array<Scenario.Series> = libraries.map((candidate) => ({ name: candidate.name, points: [] }))
  for (const callers of counts) {
    for (const [i, candidate] of libraries.entries()) {
      await settle()
      const outcome = await candidate.run(context, callers)
      series[i].points.push([callers, outcome.figures.cpuMicros])
      context.log(
        `    ${fmt(callers)} callers, ${candidate.name}: ${fmt(outcome.figures.cpuMicros, 2)} µs CPU per caller`
      )
    }
  }
  const chart: Scenario.Chart = {
    title: "Refresh stampede: client CPU per caller",
    unit: "µs per caller",
    xLabel: "callers",
    series
  }
  return {
    series: chart,
    figures: series.flatMap((line) =>
      line.points.map(([x, y]): [string, number] => [`stampede ${line.name} at ${x} callers cpu µs`, y])
    )
  }
}
