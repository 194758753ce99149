/**
 * Scenario 1, authenticated request overhead: a fixed number of GETs to the protected route at a
 * fixed concurrency, through each client, with a valid token (each client fetched it on its first
 * request, in an untimed warm-up).
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Undici from "undici"
import * as Ours from "../ours.js"
import * as Peers from "../peers.js"
import type * as Scenario from "../scenario.js"
import type { TokenServer } from "../server.js"
import { fmt, type LoadFigures, median, plural, ratio, rotate, runLoad, settle } from "../stats.js"
import * as Cpu from "./cpu.js"

interface Candidate {
  readonly name: string
  readonly run: (server: TokenServer, total: number, concurrency: number) => Promise<LoadFigures>
}

const status200 = (response: { readonly status: number; readonly text: Effect.Effect<string, unknown> }) =>
  Effect.as(response.text, response.status === 200)

const ours = (transport: Ours.Transport): Candidate => ({
  name: `effect-auth withSession (${
    transport === "undici"
      ? "NodeHttpClient.layerUndici"
      : transport === "node:http"
      ? "NodeHttpClient.layer"
      : "NodeHttpClient.layer, keep-alive agent"
  })`,
  run: async (server, total, concurrency) => {
    const dispatcher = new Undici.Agent()
    const url = `${server.apiUrl}/protected`
    const program = Effect.gen(function*() {
      const { client } = yield* Ours.makeClient(server.authUrl)
      const one = client.get(url).pipe(Effect.flatMap(status200), Effect.orElseSucceed(() => false))
      yield* Ours.load(concurrency, concurrency, one)
      return yield* Ours.load(total, concurrency, one)
    }).pipe(Effect.scoped, Effect.provide(Ours.transportLayer(transport, dispatcher, concurrency)))
    try {
      return await Effect.runPromise(program)
    } finally {
      await dispatcher.close()
    }
  }
})

// What @effect/platform costs by itself: the same transport and header, no session.
const platformFloor: Candidate = {
  name: "@effect/platform HttpClient, fixed header (reference)",
  run: async (server, total, concurrency) => {
    const dispatcher = new Undici.Agent()
    const url = `${server.apiUrl}/protected`
    try {
      const authorization = `Bearer ${await Peers.fetchToken(dispatcher, server.authUrl)}`
      const program = Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const one = client.get(url, { headers: { authorization } }).pipe(
          Effect.flatMap(status200),
          Effect.orElseSucceed(() => false)
        )
        yield* Ours.load(concurrency, concurrency, one)
        return yield* Ours.load(total, concurrency, one)
      }).pipe(Effect.scoped, Effect.provide(Ours.transportLayer("undici", dispatcher, concurrency)))
      return await Effect.runPromise(program)
    } finally {
      await dispatcher.close()
    }
  }
}

const undiciFloor: Candidate = {
  name: "undici request, fixed header (floor)",
  run: async (server, total, concurrency) => {
    const dispatcher = new Undici.Agent()
    try {
      const one = Peers.undiciRequest(
        dispatcher,
        `${server.apiUrl}/protected`,
        `Bearer ${await Peers.fetchToken(dispatcher, server.authUrl)}`
      )
      await runLoad(concurrency, concurrency, one)
      return await runLoad(total, concurrency, one)
    } finally {
      await dispatcher.close()
    }
  }
}

const badgateway: Candidate = {
  name: "@badgateway/oauth2-client OAuth2Fetch",
  run: async (server, total, concurrency) => {
    const dispatcher = new Undici.Agent()
    const previous = Undici.getGlobalDispatcher()
    // OAuth2Fetch calls the global fetch, which runs on the global dispatcher.
    Undici.setGlobalDispatcher(dispatcher)
    try {
      const { fetcher } = Peers.badgateway(server.authUrl)
      const one = Peers.badgatewayRequest(fetcher, `${server.apiUrl}/protected`)
      await runLoad(concurrency, concurrency, one)
      return await runLoad(total, concurrency, one)
    } finally {
      Undici.setGlobalDispatcher(previous)
      await dispatcher.close()
    }
  }
}

const axiosRefresh: Candidate = {
  name: "axios + axios-auth-refresh",
  run: async (server, total, concurrency) => {
    const client = Peers.axiosWithRefresh(server.apiUrl, server.authUrl, Infinity)
    try {
      await client.refresh()
      const one = Peers.axiosRequest(client.instance, "/protected")
      await runLoad(concurrency, concurrency, one)
      return await runLoad(total, concurrency, one)
    } finally {
      client.close()
    }
  }
}

interface Summary {
  readonly name: string
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly errors: number
}

// Runs every candidate in alternation: one untimed pass, then `rounds` rounds in a rotated order.
const measure = async (
  context: Scenario.Context,
  candidates: ReadonlyArray<Candidate>,
  total: number,
  concurrency: number,
  rounds: number,
  label: string
): Promise<ReadonlyArray<Summary>> => {
  const results = new Map<string, Array<LoadFigures>>(candidates.map((candidate) => [candidate.name, []]))
  // One untimed pass first, so no client meets a cold JIT in round 1.
  for (const candidate of candidates) await candidate.run(context.server, Math.min(total, 2_000), concurrency)
  for (let round = 0; round < rounds; round++) {
    for (const candidate of rotate(candidates, round)) {
      await settle()
      const figures = await candidate.run(context.server, total, concurrency)
      results.get(candidate.name)?.push(figures)
      context.log(
        `  ${label} round ${round + 1}/${rounds} ${candidate.name}: ${fmt(figures.perSecond)} req/s, ` +
          `p50 ${fmt(figures.p50Ms, 2)} ms, p99 ${fmt(figures.p99Ms, 2)} ms, ${figures.errors} errors`
      )
    }
  }
  return candidates.map((candidate) => {
    const runs = results.get(candidate.name) ?? []
    return {
      name: candidate.name,
      perSecond: median(runs.map((_) => _.perSecond)),
      p50Ms: median(runs.map((_) => _.p50Ms)),
      p99Ms: median(runs.map((_) => _.p99Ms)),
      errors: runs.reduce((sum, _) => sum + _.errors, 0)
    }
  })
}

const loadTable = (title: string, summary: ReadonlyArray<Summary>): Scenario.Table => {
  const floor = summary[0].perSecond
  return {
    title,
    headers: ["Client", "Requests/s", "p50 (ms)", "p99 (ms)", "Ratio to undici", "Errors"],
    rows: summary.map((_) => [
      _.name,
      fmt(_.perSecond),
      fmt(_.p50Ms, 2),
      fmt(_.p99Ms, 2),
      ratio(_.perSecond / floor),
      fmt(_.errors)
    ])
  }
}

const apiDelayMs = 20

/**
 * @since 0.1.0
 */
export const run = async (context: Scenario.Context): Promise<Scenario.Result> => {
  const total = context.quick ? 300 : 10_000
  const concurrency = 64
  const rounds = context.quick ? 1 : 3
  const candidates: ReadonlyArray<Candidate> = [
    undiciFloor,
    ours("undici"),
    ours("node:http"),
    ours("node:http keep-alive"),
    platformFloor,
    badgateway,
    axiosRefresh
  ]
  await context.server.config({ lifetime: 3600, holdMs: 0, apiDelayMs: 0 })
  const summary = await measure(context, candidates, total, concurrency, rounds, "instant API")

  // The same against an API that takes a few milliseconds, as real ones do: fewer requests and
  // candidates, since each run is bound by the server's delay.
  const slowTotal = context.quick ? 200 : 2_000
  const slowRounds = context.quick ? 1 : 2
  await context.server.config({ apiDelayMs })
  const slow = await measure(
    context,
    [undiciFloor, ours("undici"), badgateway, axiosRefresh],
    slowTotal,
    concurrency,
    slowRounds,
    `${apiDelayMs} ms API`
  ).finally(() => context.server.config({ apiDelayMs: 0 }))

  context.log("  client CPU per request and per login, fake dispatcher")
  const cpuCount = context.quick ? 300 : 10_000
  const cpuRounds = context.quick ? 1 : 3
  const { figures: cpu, login } = await Cpu.measure(cpuCount, cpuRounds)
  const cpuOf = (name: string) => cpu.find((_) => _.name === name)?.micros ?? Number.NaN
  const endpointLogin = cpuOf(Cpu.names.endpointLogin)
  const bareLogin = cpuOf(Cpu.names.bareLogin)
  const sessionShare = cpuOf(Cpu.names.oursRequest) - cpuOf(Cpu.names.platformRequest)

  const floor = summary[0].perSecond
  const byName = (name: string) => summary.find((_) => _.name === name)?.perSecond ?? Number.NaN
  const oursUndici = byName(ours("undici").name)
  const oursHttp = byName(ours("node:http").name)
  const oursKeepAlive = byName(ours("node:http keep-alive").name)
  const peerBest = Math.max(byName(badgateway.name), byName(axiosRefresh.name))
  const oursRatio = oursUndici / floor
  const platform = byName(platformFloor.name)
  const slowOurs = slow[1]
  const slowRatio = slowOurs.perSecond / slow[0].perSecond

  return {
    id: "1",
    title: "Authenticated request overhead",
    method: `${fmt(total)} GET /protected per run at concurrency ${concurrency} (${concurrency} workers, each ` +
      `sending its next request when the previous one is done and reading the body), a valid token held. ` +
      `Each client is built fresh for each run with a fresh connection pool and warmed with ${concurrency} ` +
      `untimed requests (which also fetch its token). ${plural(rounds, "round")} after one untimed pass, ` +
      `clients in a rotated order each round; the tables show medians over the rounds. Ratio: requests per ` +
      `second over raw undici's. The first table is against an API that answers at once (the client's own ` +
      `cost decides); the second against one that takes ${apiDelayMs} ms per request (${fmt(slowTotal)} ` +
      `requests per run, ${plural(slowRounds, "round")}).`,
    tables: [
      loadTable("API answering at once", summary),
      loadTable(`API taking ${apiDelayMs} ms per request`, slow),
      {
        title: `Client CPU per operation (process.cpuUsage, fake undici dispatcher: no socket, no server; ` +
          `concurrency 16, a full GC before each run; ${fmt(cpuCount)} operations per run, ` +
          `${plural(cpuRounds, "round")}, except the bare and \`Endpoint\` logins: ` +
          `${plural(login.pairs, "adjacent pair")} of runs of ${fmt(login.count)} logins, the order alternating, ` +
          `and the \`Endpoint\` login's ratio is the median of the ratios within each pair)`,
        headers: ["Operation", "Client CPU (µs, median)", "min-max", "Ratio to the bare request"],
        rows: cpu.map((_) => {
          const base = _.kind === "login" ? bareLogin : cpuOf(Cpu.names.platformRequest)
          return [
            `${_.kind === "login" ? "login" : "request"}: ${_.name}`,
            fmt(_.micros, 1),
            `${fmt(_.min, 1)}-${fmt(_.max, 1)}`,
            _.name === Cpu.names.endpointLogin
              ? `${ratio(login.ratio)} (pairs ${ratio(login.min)}-${ratio(login.max)})`
              : ratio(_.micros / base)
          ]
        })
      }
    ],
    targets: [
      {
        target: "(1) at least 0.9x the throughput of raw undici",
        met: oursRatio >= 0.9,
        figure: `${ratio(oursRatio)} (${fmt(oursUndici)} vs ${fmt(floor)} req/s, over layerUndici, API ` +
          `answering at once); ${ratio(slowRatio)} against the ${apiDelayMs} ms API`,
        gap: `The session is not what costs: withSession runs at ${ratio(oursUndici / platform)} of ` +
          `@effect/platform's own HttpClient sending the same request with a fixed header ` +
          `(${fmt(platform)} req/s), and that HttpClient runs at ${ratio(platform / floor)} of raw undici. ` +
          `Against an API that answers at once the client is CPU-bound (client and server share the machine's ` +
          `cores), so the per-request work of the Effect runtime and of @effect/platform (a fiber per request, ` +
          `an AbortController, a span and its traceparent header, Headers records, the response wrapper) sets ` +
          `the rate. Against an API that takes ${apiDelayMs} ms, the same work is a small part of each request: ` +
          `${ratio(slowRatio)} of raw undici, p50 ${fmt(slowOurs.p50Ms, 2)} ms against ` +
          `${fmt(slow[0].p50Ms, 2)} ms. Closing the gap at zero latency is work in @effect/platform's undici ` +
          `client and in Effect's runtime, not in effect-auth.`
      },
      {
        target: "(1) ahead of both peers",
        met: oursUndici > peerBest,
        figure: `${fmt(oursUndici)} req/s vs ${fmt(byName(badgateway.name))} (badgateway) and ` +
          `${fmt(byName(axiosRefresh.name))} (axios)`,
        gap: "See the ratio to @effect/platform's HttpClient above: the cost is the HTTP client's, not the session's."
      },
      {
        target: "(issue 16.1) a login through `Endpoint` at most 1.4x the bare request's client CPU",
        met: login.ratio <= 1.4,
        figure: `${ratio(login.ratio)}, median of ${plural(login.pairs, "adjacent pair")} of runs of ` +
          `${fmt(login.count)} logins (range ${ratio(login.min)}-${ratio(login.max)}; medians of the runs ` +
          `${fmt(endpointLogin, 1)} vs ${fmt(bareLogin, 1)} µs of client CPU per login, fake dispatcher); ` +
          `before: 1.70x (346.8 vs 204.6 µs, two medians measured apart), audit 2.5x`,
        gap: `What is left over the bare request: the per-attempt timeout (its deadline in the shared ` +
          `timer, the attempt on the calling fiber), the \`effect-auth.http\` span with the context and ` +
          `redacted header names it sets and restores, the status table with its Schema decode and the ` +
          `\`Date\` clock offset. Each keeps a behaviour the bare request lacks.`
      }
    ],
    notes: [
      `Transport: over \`NodeHttpClient.layerUndici\` effect-auth serves ${fmt(oursUndici)} req/s; over ` +
      `\`NodeHttpClient.layer\` ${fmt(oursHttp)} req/s (its default \`http.Agent\` does not keep connections ` +
      `alive, so every request opens one), and ${fmt(oursKeepAlive)} req/s with a keep-alive agent ` +
      `(\`NodeHttpClient.makeAgentLayer({ keepAlive: true })\`): the layer to recommend is ` +
      (oursUndici >= Math.max(oursHttp, oursKeepAlive)
        ? "`NodeHttpClient.layerUndici`."
        : oursKeepAlive >= oursHttp
        ? "`NodeHttpClient.layerWithoutAgent` with a keep-alive agent."
        : "`NodeHttpClient.layer`."),
      `Client CPU (fake dispatcher): a request through withSession costs ${fmt(cpuOf(Cpu.names.oursRequest), 1)} ` +
      `µs, the platform HttpClient with a fixed header ${fmt(cpuOf(Cpu.names.platformRequest), 1)} µs (the ` +
      `session's share ${fmt(sessionShare, 1)} µs), raw undici ${fmt(cpuOf(Cpu.names.undiciRequest), 1)} µs. ` +
      `Requests per second swing with whatever else the machine runs; CPU per request much less.`,
      `The session's own share: effect-auth over layerUndici reaches ${ratio(oursUndici / platform)} of ` +
      `@effect/platform's HttpClient sending the same request with a fixed header; the rest of the gap to raw ` +
      `undici is the HttpClient itself.`
    ],
    figures: Object.fromEntries([
      ...cpu.map((_) => [`${_.name} client CPU µs per ${_.kind}`, _.micros]),
      ...summary.flatMap((_) => [
        [`${_.name} req/s`, _.perSecond],
        [`${_.name} p50 ms`, _.p50Ms],
        [`${_.name} p99 ms`, _.p99Ms]
      ]),
      ...slow.flatMap((_) => [
        [`${_.name} req/s, ${apiDelayMs} ms API`, _.perSecond],
        [`${_.name} p50 ms, ${apiDelayMs} ms API`, _.p50Ms]
      ])
    ])
  }
}
