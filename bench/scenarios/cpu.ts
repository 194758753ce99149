/**
 * Client CPU per request and per login, on the fake undici dispatcher (`bench/fake.ts`): nothing
 * but the client's JavaScript runs, so `process.cpuUsage` around a run of N operations, divided
 * by N, is what each operation costs the client. Every run starts after a full garbage collection.
 * The login ratio of issue 16.1 comes from adjacent pairs of runs (see `LoginRatio`). Part of
 * scenario 1.
 *
 * @since 0.1.0
 */
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import { cpuPer, FakeDispatcher } from "../fake.js"
import * as Ours from "../ours.js"
import * as Peers from "../peers.js"
import { median, rotate, runLoad, settle } from "../stats.js"

/**
 * @since 0.1.0
 */
export interface CpuFigure {
  readonly name: string
  readonly kind: "request" | "login"
  /** Microseconds of client CPU per operation, median over the rounds. */
  readonly micros: number
  readonly min: number
  readonly max: number
}

/** Names of the rows the targets read. */
export const names = {
  undiciRequest: "undici request, fixed header (floor)",
  platformRequest: "@effect/platform HttpClient, fixed header (reference)",
  oursRequest: "effect-auth withSession",
  undiciLogin: "raw undici `request` login",
  bareLogin: "the same login straight through @effect/platform `HttpClient`",
  endpointLogin: "effect-auth login through `Endpoint`"
} as const

interface Candidate {
  readonly name: string
  readonly kind: CpuFigure["kind"]
  readonly run: (count: number) => Promise<unknown>
}

const authUrl = "http://auth.fake"
const apiUrl = "http://api.fake"
const concurrency = 16

/**
 * The login ratio of issue 16.1, measured so that the machine's load cancels out: bare and
 * `Endpoint` logins run back to back in adjacent pairs (the order alternating from pair to pair),
 * each run after a garbage collection, and the ratio is taken within each pair. On a shared machine
 * two medians measured apart swing with whatever else runs meanwhile; two runs a second apart see
 * nearly the same load, so the median of the per-pair ratios is what the pipeline costs.
 *
 * @since 0.1.0
 */
export interface LoginRatio {
  /** `Endpoint` CPU over bare CPU, median over the pairs. */
  readonly ratio: number
  readonly min: number
  readonly max: number
  readonly pairs: number
  /** Logins per run. */
  readonly count: number
}

/**
 * @since 0.1.0
 */
export interface Measured {
  readonly figures: ReadonlyArray<CpuFigure>
  readonly login: LoginRatio
}

/**
 * Runs every candidate `rounds` times in a rotated order, `count` operations at concurrency 16;
 * then the bare and `Endpoint` logins in `5 * rounds` adjacent pairs of `count / 5` logins each
 * (see `LoginRatio`), which also give those two rows their figures.
 *
 * @since 0.1.0
 */
export const measure = async (count: number, rounds: number): Promise<Measured> => {
  const dispatcher = new FakeDispatcher()
  const runtime = ManagedRuntime.make(
    NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
      Layer.provide(Layer.succeed(NodeHttpClient.Dispatcher, dispatcher))
    )
  )
  const scope = await runtime.runPromise(Scope.make())
  try {
    const endpoint = await runtime.runPromise(Endpoint.makeClient({ baseUrl: authUrl, provider: "bench" }))
    const httpClient = await runtime.runPromise(HttpClient.HttpClient)
    const { client } = await runtime.runPromise(Scope.extend(Ours.makeClient(authUrl), scope))
    const authorization = `Bearer ${await Peers.fetchToken(dispatcher, authUrl)}`
    const ok = (response: { readonly status: number; readonly text: Effect.Effect<string, unknown> }) =>
      Effect.as(response.text, response.status === 200)
    const effectLoad = (one: Effect.Effect<boolean>) => (count: number) =>
      runtime.runPromise(Ours.load(count, concurrency, one))
    const candidates: ReadonlyArray<Candidate> = [
      {
        name: names.undiciRequest,
        kind: "request",
        run: (count) =>
          runLoad(count, concurrency, Peers.undiciRequest(dispatcher, `${apiUrl}/protected`, authorization))
      },
      {
        name: names.platformRequest,
        kind: "request",
        run: effectLoad(
          httpClient.get(`${apiUrl}/protected`, { headers: { authorization } }).pipe(
            Effect.flatMap(ok),
            Effect.orElseSucceed(() => false)
          )
        )
      },
      {
        name: names.oursRequest,
        kind: "request",
        run: effectLoad(client.get(`${apiUrl}/protected`).pipe(Effect.flatMap(ok), Effect.orElseSucceed(() => false)))
      },
      {
        name: names.undiciLogin,
        kind: "login",
        run: (count) =>
          runLoad(count, concurrency, async () => {
            await Peers.fetchToken(dispatcher, authUrl)
            return true
          })
      },
      {
        name: names.bareLogin,
        kind: "login",
        run: effectLoad(Effect.as(Ours.bareLogin(httpClient, authUrl), true))
      },
      {
        name: names.endpointLogin,
        kind: "login",
        run: effectLoad(Effect.as(Effect.orDie(Ours.login(endpoint)), true))
      }
    ]
    const [bare, endpointLogin] = [names.bareLogin, names.endpointLogin].map((name) =>
      candidates.find((_) => _.name === name)!
    )
    const results = new Map<string, Array<number>>(candidates.map((_) => [_.name, []]))
    const run = async (candidate: Candidate, count: number): Promise<number> => {
      await settle()
      const micros = await cpuPer(count, () => candidate.run(count))
      results.get(candidate.name)?.push(micros)
      return micros
    }
    for (const candidate of candidates) await candidate.run(count)
    for (let round = 0; round < rounds; round++) {
      for (const candidate of rotate(candidates, round)) {
        if (candidate !== bare && candidate !== endpointLogin) await run(candidate, count)
      }
    }
    const pairs = 5 * rounds
    const pairCount = Math.max(100, Math.round(count / 5))
    const ratios: Array<number> = []
    for (let pair = 0; pair < pairs; pair++) {
      // Alternated, so that a load rising or falling through a pair favours neither side.
      const bareFirst = pair % 2 === 0
      const first = await run(bareFirst ? bare : endpointLogin, pairCount)
      const second = await run(bareFirst ? endpointLogin : bare, pairCount)
      ratios.push(bareFirst ? second / first : first / second)
    }
    const figures = candidates.map((candidate): CpuFigure => {
      const values = results.get(candidate.name) ?? []
      return {
        name: candidate.name,
        kind: candidate.kind,
        micros: median(values),
        min: Math.min(...values),
        max: Math.max(...values)
      }
    })
    return {
      figures,
      login: { ratio: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), pairs, count: pairCount }
    }
  } finally {
    await runtime.runPromise(Scope.close(scope, Exit.void))
    await runtime.dispose()
  }
}
