/**
 * Scenario 4a, the heap cost of idle sessions. This module is also the child process that measures
 * it (`node --expose-gc --import tsx bench/scenarios/idle.ts <count>`), so the figures come from a
 * heap nothing else has touched.
 *
 * Every session holds its own valid token (expiring in an hour) and has its proactive refresh
 * scheduled. effect-auth: each session built as a provider's `make` builds it (`providerSession`
 * below: a key derived from its credentials, its login built when it runs, `AuthSession.lazy`
 * over a function of the module, the service and the credentials), with that token as `initial`,
 * all in one scope, then again each in a scope of its own; the authenticated client a provider
 * builds over its session is not part of that figure, and is measured with it in a row of its own
 * (`sessionWithClient`). The credentials are the application's, made before
 * the measurement. badgateway: an `OAuth2Fetch` that fetched its token (from a
 * local `getNewToken`), which is when it arms its refresh timer.
 *
 * @since 0.1.0
 */
import { OAuth2Client, OAuth2Fetch } from "@badgateway/oauth2-client"
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as SessionClient from "@effect-auth/core/SessionClient"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Ours from "../ours.js"

/**
 * What the child reports: bytes per item, for `count` items.
 *
 * @since 0.1.0
 */
export interface Figures {
  readonly count: number
  /** A `TokenSet` alone (part of every session figure). */
  readonly tokenSet: number
  /** The two `Redacted` secrets of such a token set, alone (part of `tokenSet`). */
  readonly secrets: number
  /** A login effect built up front: `Endpoint.execute(...)` with its request (part of `sessionEagerLogin`). */
  readonly loginEffect: number
  /** A session as the provider sessions build one (`providerSession`), its own token, one scope for all. */
  readonly session: number
  /**
   * `session` with the authenticated client a provider session builds over it
   * (`SessionClient.authenticated`): what a provider's `make` returns, and the counterpart of
   * badgateway's `OAuth2Fetch`.
   */
  readonly sessionWithClient: number
  /** A bench session (`Ours.makeSession`) with a login effect built up front and held by the session. */
  readonly sessionEagerLogin: number
  /** The session's own structures: sessions sharing one login effect, minus their tokens. */
  readonly sessionMachinery: number
  /** As `session`, each in a scope of its own. */
  readonly sessionOwnScope: number
  /** A badgateway `OAuth2Fetch` with its token and its refresh timer. */
  readonly badgateway: number
}

/**
 * Runs the child and returns its figures.
 *
 * @since 0.1.0
 */
export const measure = (count: number, mode: "all" | "scale" = "all"): Promise<Figures> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.fork(import.meta.filename, [String(count), mode], {
      execArgv: ["--expose-gc", "--import", "tsx"],
      env: { ...process.env, BENCH_IDLE_CHILD: "1" },
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let figures: Figures | undefined
    child.on("message", (message: Figures) => figures = message)
    child.on("error", reject)
    child.on(
      "exit",
      (code) =>
        figures === undefined ? reject(new Error(`the idle-session child exited with ${code}`)) : resolve(figures)
    )
  })

const hour = 3_600_000

const heapAfterGc = (): number => {
  const gc: unknown = Reflect.get(globalThis, "gc")
  if (typeof gc !== "function") throw new Error("run with --expose-gc")
  for (let i = 0; i < 4; i++) gc()
  return process.memoryUsage().heapUsed
}

/** Bytes per item that `build` keeps alive. */
const perItem = async <A>(count: number, build: (count: number) => Promise<A>, release: (a: A) => Promise<void>) => {
  const before = heapAfterGc()
  const kept = await build(count)
  const after = heapAfterGc()
  await release(kept)
  heapAfterGc()
  return (after - before) / count
}

const tokenSets = (count: number): Array<TokenSet.TokenSet> => {
  const now = Date.now()
  return Array.from({ length: count }, (_, i) =>
    TokenSet.fromExpiresAt({
      accessToken: Redacted.make(`access-token-${i}-${Math.random().toString(36).slice(2)}`),
      refreshToken: Redacted.make(`refresh-token-${i}`),
      expiresAt: now + hour
    }))
}

/** The refresh of the bench's provider: every token stays valid, so none is ever sent. */
const refresh = (_refreshToken: Redacted.Redacted<string>): Effect.Effect<TokenSet.TokenSet> =>
  Effect.dieMessage("the idle sessions never refresh")

const isRefreshRejected = (_error: unknown): boolean => false

/**
 * What a provider's `make` does to build its session (`OccamSession.make`, say), but for the
 * authenticated client it builds over it: a key derived from the credentials, the login built
 * when it runs (`AuthSession.lazy` over a function of the module, the service and the
 * credentials), the service's refresh, its predicate, and the options it passes through.
 */
const providerSession = (
  endpoint: Endpoint.Client,
  options: AuthSession.SessionOptions<Ours.Credentials> & { readonly initial: TokenSet.TokenSet }
) =>
  Effect.gen(function*() {
    const credentials = options.credentials
    return yield* AuthSession.make({
      provider: "bench",
      key: options.key ?? `bench:${credentials.clientId}`,
      login: AuthSession.lazy(Ours.loginWith, endpoint, credentials),
      refresh,
      isRefreshRejected,
      initial: options.initial,
      ...AuthSession.passThrough(options)
    })
  })

const child = async (count: number, scaleOnly: boolean): Promise<Figures> => {
  // Nothing is sent: every token is valid for the whole measurement. One Endpoint client serves
  // every session, as one would per provider.
  const authUrl = "http://127.0.0.1:9"
  const apiUrl = "http://127.0.0.1:9/api"
  const endpoint = await Effect.runPromise(
    Endpoint.makeClient({ baseUrl: authUrl, provider: "bench" }).pipe(Effect.provide(FetchHttpClient.layer))
  )
  type Build = (
    initial: TokenSet.TokenSet,
    i: number
  ) => Effect.Effect<unknown, unknown, Scope.Scope | HttpClient.HttpClient>
  // As a provider's `make` builds its session; the credentials are the application's, given to
  // the layer, so they are made before the sessions are measured and not counted (after the token
  // sets are: their secrets go into the registry of `Redacted` too, whose growth would count).
  const credentials: Array<Ours.Credentials> = []
  const asProvider: Build = (initial, i) => providerSession(endpoint, { credentials: credentials[i], initial })
  const ours = (options: Omit<Ours.SessionOptions, "initial" | "key">): Build => (initial, i) =>
    Ours.makeSession(authUrl, { ...options, endpoint, key: `idle-${i}`, initial })
  const sessions = (build: Build, ownScope = false) => async (n: number) => {
    const tokens = tokenSets(n)
    const scope = Effect.runSync(Scope.make())
    // As a provider layer builds its sessions: all in the one scope of the layer, extended once.
    // The own-scope variant forks a scope per session, as a layer per session would.
    const made: Array<unknown> = await Effect.runPromise(
      (ownScope
        ? Effect.forEach(tokens, (initial, i) =>
          Effect.flatMap(
            Scope.fork(scope, { _tag: "Sequential" }),
            (own) => Scope.extend(build(initial, i), own)
          ))
        : Scope.extend(Effect.forEach(tokens, build), scope)).pipe(Effect.provide(FetchHttpClient.layer))
    )
    return { scope, made }
  }
  const close = ({ scope }: { readonly scope: Scope.CloseableScope }) =>
    Effect.runPromise(Scope.close(scope, Exit.void))

  const client = new OAuth2Client({ server: authUrl, tokenEndpoint: "/token", clientId: "c", clientSecret: "s" })
  const badgatewayFetchers = async (n: number) => {
    const fetchers = Array.from({ length: n }, (_, i) =>
      new OAuth2Fetch({
        client,
        getNewToken: () => ({
          accessToken: `access-token-${i}-${Math.random().toString(36).slice(2)}`,
          refreshToken: `refresh-token-${i}`,
          expiresAt: Date.now() + hour
        })
      }))
    // Fetching the first token is what arms OAuth2Fetch's refresh timer.
    await Promise.all(fetchers.map((fetcher) => fetcher.getToken()))
    return fetchers
  }

  const tokenSet = await perItem(count, async (n) => tokenSets(n), async () => {})
  for (let i = 0; i < count; i++) {
    credentials.push({ clientId: `client-${i}`, clientSecret: Redacted.make(`client-secret-${i}`) })
  }
  // One run before measuring: what the first sessions cost once (compiled code, inline caches)
  // is no part of what each session keeps.
  await perItem(count, sessions(asProvider), close)
  const session = await perItem(count, sessions(asProvider), close)
  const badgateway = await perItem(count, badgatewayFetchers, async () => {
    // OAuth2Fetch has no close: its timers keep it alive until the child exits.
  })
  if (scaleOnly) {
    const none = Number.NaN
    return {
      count,
      tokenSet,
      secrets: none,
      loginEffect: none,
      session,
      sessionWithClient: none,
      sessionEagerLogin: none,
      sessionMachinery: none,
      sessionOwnScope: none,
      badgateway
    }
  }
  // As the provider's `make` returns it: the session and the client over it.
  const withClient: Build = (initial, i) =>
    Effect.flatMap(
      providerSession(endpoint, { credentials: credentials[i], initial }),
      (made) => SessionClient.authenticated(made, { baseUrl: apiUrl })
    )
  const sessionWithClient = await perItem(count, sessions(withClient), close)
  const secrets = await perItem(count, async (n) =>
    Array.from({ length: n }, (_, i) => [
      Redacted.make(`access-token-${i}-${Math.random().toString(36).slice(2)}`),
      Redacted.make(`refresh-token-${i}`)
    ]), async () => {})
  const loginEffect = await perItem(
    count,
    async (n) => Array.from({ length: n }, () => Ours.login(endpoint)),
    async () => {}
  )
  const sessionEagerLogin = await perItem(count, sessions(ours({})), close)
  const shared = await perItem(count, sessions(ours({ login: Ours.login(endpoint) })), close)
  const sessionOwnScope = await perItem(count, sessions(asProvider, true), close)

  return {
    count,
    tokenSet,
    secrets,
    loginEffect,
    session,
    sessionWithClient,
    sessionEagerLogin,
    sessionMachinery: shared - tokenSet,
    sessionOwnScope,
    badgateway
  }
}

if (process.env.BENCH_IDLE_CHILD === "1" && process.send !== undefined) {
  const figures = await child(Number(process.argv[2] ?? "10000"), process.argv[3] === "scale")
  process.send(figures, () => process.exit(0))
}
