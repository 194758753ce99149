/**
 * effect-auth as a user would set it up against the bench token server: a `login` that posts a
 * client-credentials form through `Endpoint`, an `AuthSession` over it, and an `HttpClient` with
 * `SessionClient.withSession`, over one of the Node transports.
 *
 * @since 0.1.0
 */
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as SessionClient from "@effect-auth/core/SessionClient"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Undici from "undici"
import { type LoadFigures, Recorder } from "./stats.js"

/**
 * The credentials every client presents.
 *
 * @since 0.1.0
 */
export const clientId = "bench-client"

/**
 * @since 0.1.0
 */
export const clientSecret = "bench-secret"

const TokenResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.String,
  expires_in: Schema.Number
})

/**
 * What a bench session logs in with, as a provider session holds its credentials.
 *
 * @since 0.1.0
 */
export interface Credentials {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
}

/**
 * @since 0.1.0
 */
export const credentials: Credentials = { clientId, clientSecret: Redacted.make(clientSecret) }

/**
 * The login of a bench session with `credentials`: one client-credentials request through
 * `Endpoint`.
 *
 * @since 0.1.0
 */
export const loginWith = (client: Endpoint.Client, credentials: Credentials) =>
  client.execute({
    operation: "bench.token",
    grant: "replayable",
    request: HttpClientRequest.post("/token").pipe(
      HttpClientRequest.bodyUrlParams({
        grant_type: "client_credentials",
        client_id: credentials.clientId,
        client_secret: Redacted.value(credentials.clientSecret)
      })
    ),
    responses: {
      200: Endpoint.decode(TokenResponse, (body) =>
        TokenSet.fromExpiresIn({
          accessToken: Redacted.make(body.access_token),
          tokenType: body.token_type,
          expiresIn: body.expires_in
        }))
    },
    secrets: [credentials.clientSecret]
  })

/**
 * The login of a bench session: one client-credentials request through `Endpoint`.
 *
 * @since 0.1.0
 */
export const login = (client: Endpoint.Client) => loginWith(client, credentials)

/**
 * The error a bench session can fail with.
 *
 * @since 0.1.0
 */
export type LoginError = Effect.Effect.Error<ReturnType<typeof login>>

/**
 * How a bench session is built.
 *
 * @since 0.1.0
 */
export interface SessionOptions {
  /** The `Endpoint` client to log in with; one is made when absent. */
  readonly endpoint?: Endpoint.Client
  readonly key?: string
  /**
   * Build the login request when a login runs rather than once, up front, as the provider
   * sessions do: `AuthSession.lazy` over a function of the module, the `Endpoint` client and the
   * credentials.
   */
  readonly lazyLogin?: boolean
  /** The login effect to use instead of building one (several sessions may share it). */
  readonly login?: Effect.Effect<TokenSet.TokenSet, LoginError>
  readonly initial?: TokenSet.TokenSet
  readonly skew?: Duration.DurationInput
  readonly jitter?: Duration.DurationInput
}

/**
 * A session logging in at `authUrl` over the `HttpClient` in context.
 *
 * @since 0.1.0
 */
export const makeSession = (
  authUrl: string,
  options: SessionOptions = {}
): Effect.Effect<AuthSession.AuthSession<LoginError>, ConfigError.ConfigError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const client = options.endpoint ?? (yield* Endpoint.makeClient({ baseUrl: authUrl, provider: "bench" }))
    return yield* AuthSession.make({
      provider: "bench",
      key: options.key ?? "bench",
      login: options.login ??
        (options.lazyLogin === true ? AuthSession.lazy(loginWith, client, credentials) : login(client)),
      initial: options.initial,
      skew: options.skew,
      jitter: options.jitter
    })
  })

/**
 * A session and the authenticated client over it.
 *
 * @since 0.1.0
 */
export const makeClient = (authUrl: string, options: SessionOptions = {}) =>
  Effect.gen(function*() {
    const session = yield* makeSession(authUrl, options)
    const client = (yield* HttpClient.HttpClient).pipe(SessionClient.withSession(session))
    return { session, client }
  })

/**
 * The Node transports `withSession` is measured over.
 *
 * @since 0.1.0
 */
export type Transport = "undici" | "node:http" | "node:http keep-alive"

/**
 * The `HttpClient` layer of `transport`. The undici one uses `dispatcher`, so every undici-based
 * client of a run shares the same pool settings; the `node:http` ones are what
 * `NodeHttpClient.layer` gives (an `http.Agent` with Node's defaults, no keep-alive), and the same
 * with a keep-alive agent.
 *
 * @since 0.1.0
 */
export const transportLayer = (
  transport: Transport,
  dispatcher: Undici.Dispatcher,
  maxSockets: number
): Layer.Layer<HttpClient.HttpClient> => {
  switch (transport) {
    case "undici":
      return NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
        Layer.provide(Layer.succeed(NodeHttpClient.Dispatcher, dispatcher))
      )
    case "node:http":
      return NodeHttpClient.layer
    case "node:http keep-alive":
      return NodeHttpClient.layerWithoutAgent.pipe(
        Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true, maxSockets }))
      )
  }
}

/**
 * A token set that expired a second before `now`.
 *
 * @since 0.1.0
 */
export const expiredTokens = (now: number): TokenSet.TokenSet =>
  TokenSet.fromExpiresAt({ accessToken: Redacted.make("stale-token"), expiresAt: now - 1000 })

/**
 * The Effect twin of `runLoad`: `concurrency` fibers, each taking the next request when its
 * previous one is done, in one fiber tree run by one `runPromise`.
 *
 * @since 0.1.0
 */
export const load = (total: number, concurrency: number, one: Effect.Effect<boolean>): Effect.Effect<LoadFigures> =>
  Effect.suspend(() => {
    const recorder = new Recorder(total)
    let next = 0
    const worker = Effect.gen(function*() {
      while (next < total) {
        next++
        const startedAt = performance.now()
        const ok = yield* one
        recorder.record(performance.now() - startedAt)
        if (!ok) recorder.errors++
      }
    })
    recorder.startedAt = performance.now()
    return Effect.all(Array.from({ length: concurrency }, () => worker), { concurrency: "unbounded", discard: true })
      .pipe(Effect.map(() => {
        recorder.endedAt = performance.now()
        return recorder.figures()
      }))
  })

/**
 * The Effect twin of `runBurst`: `total` callers of `one` at once, each recording how long it
 * waited.
 *
 * @since 0.1.0
 */
export const burst = (total: number, one: Effect.Effect<boolean>): Effect.Effect<LoadFigures> =>
  Effect.suspend(() => {
    const recorder = new Recorder(total)
    recorder.startedAt = performance.now()
    const started = recorder.startedAt
    const caller = Effect.map(one, (ok) => {
      recorder.record(performance.now() - started)
      if (!ok) recorder.errors++
    })
    // Forked and awaited one by one, as an application's fibers would be: `Effect.all` with
    // unbounded concurrency costs several times a plain fork and would count against the callee.
    return Effect.gen(function*() {
      const fibers: Array<Fiber.RuntimeFiber<void>> = []
      for (let i = 0; i < total; i++) fibers.push(yield* Effect.fork(caller))
      for (const fiber of fibers) yield* Fiber.await(fiber)
      recorder.endedAt = performance.now()
      return recorder.figures()
    })
  })

const decodeTokenResponse = Schema.decodeUnknown(TokenResponse)

/**
 * The same login without `Endpoint`: the request straight through `HttpClient`, the body read as
 * JSON and decoded, no retry, timeout, size cap or span. Only to tell what the pipeline costs.
 *
 * @since 0.1.0
 */
export const bareLogin = (client: HttpClient.HttpClient, authUrl: string) =>
  client.execute(
    HttpClientRequest.post(`${authUrl}/token`).pipe(
      HttpClientRequest.bodyUrlParams({
        grant_type: "client_credentials",
        client_id: clientId,
        client_secret: clientSecret
      })
    )
  ).pipe(
    Effect.flatMap((response) => response.json),
    Effect.flatMap(decodeTokenResponse),
    Effect.flatMap((body) =>
      TokenSet.fromExpiresIn({
        accessToken: Redacted.make(body.access_token),
        tokenType: body.token_type,
        expiresIn: body.expires_in
      })
    ),
    Effect.orDie
  )
