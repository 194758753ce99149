/**
 * Client CPU per request and per login, on the fake undici dispatcher (`bench/fake.ts`): nothing
 * but the client's JavaScript runs, so `process.cpuUsage` around a run of N operations, divided
 * by N, is what each operation costs the client. Part of scenario 1.
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

const authUrl = "http://auth.fake"
const apiUrl = "http://api.fake"
const concurrency = 16

/**
 * Runs every candidate `rounds` times in a rotated order, `count` operations at concurrency 16.
 *
 * @since 0.1.0
 */
export const measure = async (count: number, rounds: number): Promise<ReadonlyArray<CpuFigure>> => {
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
    const effectLoad = (one: Effect.Effect<boolean>) => () => runtime.runPromise(Ours.load(count, concurrency, one))
    const candidates: ReadonlyArray<
      { readonly name: string; readonly kind: CpuFigure["kind"]; readonly run: () => Promise<unknown> }
    > = [
      {
        name: names.undiciRequest,
        kind: "request",
        run: () => runLoad(count, concurrency, Peers.undiciRequest(dispatcher, `${apiUrl}/protected`, authorization))
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
        run: () =>
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
    const results = new Map<string, Array<number>>(candidates.map((_) => [_.name, []]))
    for (const candidate of candidates) await candidate.run()
    for (let round = 0; round < rounds; round++) {
      for (const candidate of rotate(candidates, round)) {
        await settle()
        results.get(candidate.name)?.push(await cpuPer(count, candidate.run))
      }
    }
    return candidates.map((candidate) => {
      const values = results.get(candidate.name) ?? []
      return {
        name: candidate.name,
        kind: candidate.kind,
        micros: median(values),
        min: Math.min(...values),
        max: Math.max(...values)
      }
    })
  } finally {
    await runtime.runPromise(Scope.close(scope, Exit.void))
    await runtime.dispose()
  }
}
