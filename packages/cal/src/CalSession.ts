/**
 * A self-refreshing session for one Cal.com managed user, and an `HttpClient` for the rest of
 * Cal.com's API that authenticates with it.
 *
 * The session starts from a refresh token (such as `CAL_REFRESH_TOKEN`) or from an authorization
 * code, which it exchanges once, as its first login. Cal.com rotates refresh tokens: each refresh
 * deletes the token it presented, so the session writes every new refresh token to the
 * `TokenStore` before handing out the new access token, and a session rebuilt over the same store
 * resumes from the newest token instead of the (dead) one it was configured with. When a refresh
 * token is rejected and no other instance left a newer one in the store, the session has nothing
 * left to log in with and fails with `ReauthenticationRequired`: the user must authorize again.
 *
 * The session's error type is exact for what it starts from: a session started from a refresh
 * token (or from the store alone) fails with `InvalidClientSecret`, the errors every provider
 * shares, and `ReauthenticationRequired`; one started from a code adds `ExchangeRejected`. A
 * rejected refresh token (`InvalidRefreshToken`) is never returned: it becomes
 * `ReauthenticationRequired`, or a token another instance stored. Hence three tags: every layer
 * provides `CalSession` (either kind), and also `CalRefreshTokenSession` or `CalCodeSession`,
 * exact for one kind (`layerConfig` always builds a refresh-token session).
 *
 * The authenticated client resolves relative URLs against the base URL (absolute ones must stay
 * on its origin), adds `Authorization: Bearer`, and treats both 401 and Cal.com's 498
 * (`ACCESS_TOKEN_IS_EXPIRED`) as "this token is stale": it refreshes once and retries once.
 *
 * @since 0.1.0
 */
import type * as AuthError from "@effect-auth/core/AuthError"
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as ProviderConfig from "@effect-auth/core/ProviderConfig"
import * as SessionClient from "@effect-auth/core/SessionClient"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as TokenStore from "@effect-auth/core/TokenStore"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type * as CalError from "./CalError.js"
import * as CalOAuth from "./CalOAuth.js"

/**
 * What a session started from a refresh token, or from the store alone, can fail with: a
 * refresh's errors besides `InvalidRefreshToken`, and `ReauthenticationRequired` when the refresh
 * token is dead and no other instance stored a newer one.
 *
 * @since 0.1.0
 * @category errors
 */
export type RefreshTokenError =
  | CalError.InvalidClientSecret
  | AuthError.AuthError
  | AuthSession.ReauthenticationRequired

/**
 * What a session started from an authorization code can fail with: the exchange's errors,
 * `ReauthenticationRequired` (the code was exchanged once already and the refresh token is dead),
 * and a refresh's besides `InvalidRefreshToken`.
 *
 * @since 0.1.0
 * @category errors
 */
export type CodeError = CalError.ExchangeRejected | RefreshTokenError

/**
 * What a session of either kind can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type SessionError = CodeError

/**
 * The session and an `HttpClient` bound to Cal.com's base URL that authenticates every request
 * with it, for a session failing with `E`.
 *
 * @since 0.1.0
 * @category models
 */
export type Service<E = SessionError> = SessionClient.Authenticated<E>

/**
 * A managed user's Cal.com session of either kind: what every layer of this module provides.
 *
 * @since 0.1.0
 * @category tags
 */
export class CalSession extends Context.Tag("@effect-auth/cal/CalSession")<CalSession, Service>() {}

/**
 * A session started from a refresh token or the store, with its exact error type: provided by
 * `layerConfig`, and by `layer` given a refresh token or no credentials.
 *
 * @since 0.1.0
 * @category tags
 */
export class CalRefreshTokenSession extends Context.Tag("@effect-auth/cal/CalRefreshTokenSession")<
  CalRefreshTokenSession,
  Service<RefreshTokenError>
>() {}

/**
 * A session started from an authorization code, with its exact error type: provided by `layer`
 * given a code.
 *
 * @since 0.1.0
 * @category tags
 */
export class CalCodeSession extends Context.Tag("@effect-auth/cal/CalCodeSession")<
  CalCodeSession,
  Service<CodeError>
>() {}

/**
 * A refresh token to start from.
 *
 * @since 0.1.0
 * @category models
 */
export interface RefreshTokenCredentials {
  readonly refreshToken: Redacted.Redacted<string>
}

/**
 * An authorization code from `CalOAuth.authorize`, exchanged once, as the session's first login.
 *
 * @since 0.1.0
 * @category models
 */
export interface CodeCredentials {
  readonly code: Redacted.Redacted<string>
}

/**
 * What a session starts from when the store holds nothing for it yet.
 *
 * @since 0.1.0
 * @category models
 */
export type Credentials = RefreshTokenCredentials | CodeCredentials

/**
 * How to build a session (see `AuthSession.SessionOptions`). `credentials` may be left out: the
 * session then only resumes from what the store holds for it. The default `key` is
 * `cal:<clientId>:<fingerprint of the configured refresh token or code>` (two users configured
 * with their own tokens never share an entry; the entry follows the configuration across
 * restarts), or `cal:<clientId>:default` without credentials. Give a stable one (such as
 * `storeKey(clientId, managedUserId)`) when the configured token may change.
 *
 * @since 0.1.0
 * @category models
 */
export type Options<C extends Credentials = Credentials> =
  & Omit<AuthSession.SessionOptions<C>, "credentials">
  & { readonly credentials?: C | undefined }

/**
 * The store key of a managed user's session.
 *
 * @since 0.1.0
 * @category constructors
 */
export const storeKey = (clientId: string, userKey = "default"): string => `cal:${clientId}:${userKey}`

/**
 * A token set holding only a refresh token, its access token already expired: the session's
 * first `token` refreshes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRefreshToken = (refreshToken: Redacted.Redacted<string>): TokenSet.TokenSet =>
  new TokenSet.TokenSet({
    accessToken: Redacted.make(""),
    tokenType: "Bearer",
    expiresAt: 0,
    refreshToken
  })

/** Failures that say the server did not process the exchange: the code is still unspent. */
const unprocessed = (error: CodeError): boolean =>
  (error._tag === "TransportError" && !error.mayHaveReachedServer) ||
  (error._tag === "UnexpectedStatus" && (error.status === 429 || error.status === 503))

const isCode = (credentials: Credentials): credentials is CodeCredentials => "code" in credentials

const defaultUserKey = (credentials: Credentials | undefined): string =>
  credentials === undefined
    ? "default"
    : TokenStore.fingerprint(Redacted.value(isCode(credentials) ? credentials.code : credentials.refreshToken))

type RefreshError = CalError.InvalidRefreshToken | CalError.InvalidClientSecret | AuthError.AuthError

const isRefreshRejected = (error: RefreshError): error is CalError.InvalidRefreshToken =>
  error._tag === "InvalidRefreshToken"

const checked = (options: Options): Effect.Effect<Credentials | undefined, ConfigError.ConfigError> =>
  options?.credentials === undefined
    ? Effect.succeed(undefined)
    : ProviderConfig.requireCredentials(
      "Cal.com",
      options.credentials,
      "{ refreshToken } or { code }",
      (given: Credentials) =>
        ProviderConfig.hasFields(given, ["refreshToken"]) || ProviderConfig.hasFields(given, ["code"])
    )

interface Parts {
  readonly cal: CalOAuth.Service
  readonly key: string
  readonly common: {
    readonly provider: string
    readonly key: string
    readonly refresh: (
      refreshToken: Redacted.Redacted<string>
    ) => Effect.Effect<
      TokenSet.TokenSet,
      CalError.InvalidRefreshToken | CalError.InvalidClientSecret | AuthError.AuthError
    >
    readonly isRefreshRejected: (
      error: CalError.InvalidRefreshToken | CalError.InvalidClientSecret | AuthError.AuthError
    ) => error is CalError.InvalidRefreshToken
  } & ReturnType<typeof AuthSession.passThrough>
}

// Made by the module rather than where a session is built, whose closures would keep that whole
// scope alive for as long as the session lives: the refresh with the service alone, the code's
// login once for every session (each holds one `AuthSession.lazy` over it).
const refreshWith = (cal: CalOAuth.Service) => (refreshToken: Redacted.Redacted<string>) =>
  cal.refresh({ refreshToken })

const exchangeOnce = (
  cal: CalOAuth.Service,
  { code, key, spent }: {
    readonly code: Redacted.Redacted<string>
    readonly key: string
    readonly spent: Ref.Ref<boolean>
  }
): Effect.Effect<
  TokenSet.TokenSet,
  CalError.ExchangeRejected | AuthError.AuthError | AuthSession.ReauthenticationRequired
> =>
  Effect.gen(function*() {
    if (yield* Ref.getAndSet(spent, true)) {
      return yield* new AuthSession.ReauthenticationRequired({
        provider: "cal",
        key,
        reason: "the authorization code was already exchanged; authorize the user again"
      })
    }
    return yield* cal.exchange({ code }).pipe(
      Effect.tapError((error) => unprocessed(error) ? Ref.set(spent, false) : Effect.void)
    )
  })

const parts = (
  options: Options,
  credentials: Credentials | undefined
): Effect.Effect<Parts, never, CalOAuth.CalOAuth> =>
  Effect.map(CalOAuth.CalOAuth, (cal) => {
    const key = options.key ?? storeKey(cal.clientId, defaultUserKey(credentials))
    return {
      cal,
      key,
      common: {
        provider: "cal",
        key,
        refresh: refreshWith(cal),
        // A refresh that may have reached Cal.com without its answer arriving counts as spent too
        // (`AuthSession`'s default for single-use refresh tokens): Cal.com deletes the token it
        // was shown, so presenting it again could only fail.
        isRefreshRejected,
        ...AuthSession.passThrough(options)
      }
    }
  })

/** Cal.com answers 498 (`ACCESS_TOKEN_IS_EXPIRED`) for an expired access token, besides 401. */
const clientOptions = (cal: CalOAuth.Service) => ({
  baseUrl: cal.baseUrl,
  isExpired: (response: HttpClientResponse.HttpClientResponse) => response.status === 498
})

const makeRefreshToken = (
  { cal, common }: Parts,
  credentials: RefreshTokenCredentials | undefined
): Effect.Effect<Service<RefreshTokenError>, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.flatMap(
    AuthSession.make({
      ...common,
      initial: credentials === undefined ? undefined : fromRefreshToken(credentials.refreshToken)
    }),
    (session) => SessionClient.authenticated(session, clientOptions(cal))
  )

const makeCode = (
  { cal, common, key }: Parts,
  credentials: CodeCredentials
): Effect.Effect<Service<CodeError>, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    // A code is spent by the first exchange that reaches the server, whatever its answer:
    // after that there is nothing to log in with, and only a new authorization helps.
    const spent = yield* Ref.make(false)
    const login = AuthSession.lazy(exchangeOnce, cal, { code: credentials.code, key, spent })
    const session = yield* AuthSession.make({ ...common, login })
    return yield* SessionClient.authenticated(session, clientOptions(cal))
  })

/**
 * Makes the session (scoped: its proactive refresh runs while the scope lives) and its client.
 * Uses `store`, else the `TokenStore` in context when there is one. Misshapen credentials fail
 * with a `ConfigError` at `credentials`.
 *
 * @since 0.1.0
 * @category constructors
 */
export function make(
  options: Options<RefreshTokenCredentials>
): Effect.Effect<
  Service<RefreshTokenError>,
  ConfigError.ConfigError,
  CalOAuth.CalOAuth | HttpClient.HttpClient | Scope.Scope
>
export function make(
  options: Options<CodeCredentials>
): Effect.Effect<Service<CodeError>, ConfigError.ConfigError, CalOAuth.CalOAuth | HttpClient.HttpClient | Scope.Scope>
export function make(
  options: Options
): Effect.Effect<Service, ConfigError.ConfigError, CalOAuth.CalOAuth | HttpClient.HttpClient | Scope.Scope>
export function make(
  options: Options
): Effect.Effect<Service, ConfigError.ConfigError, CalOAuth.CalOAuth | HttpClient.HttpClient | Scope.Scope> {
  return Effect.gen(function*() {
    const credentials = yield* checked(options)
    const built = yield* parts(options, credentials)
    return credentials !== undefined && isCode(credentials)
      ? yield* makeCode(built, credentials)
      : yield* makeRefreshToken(built, credentials)
  })
}

/**
 * The session as a layer over a `CalOAuth`. It provides `CalSession`, and
 * `CalRefreshTokenSession` or `CalCodeSession` for what it starts from.
 *
 * @since 0.1.0
 * @category layers
 */
export function layer(
  options: Options<RefreshTokenCredentials>
): Layer.Layer<CalSession | CalRefreshTokenSession, ConfigError.ConfigError, CalOAuth.CalOAuth | HttpClient.HttpClient>
export function layer(
  options: Options<CodeCredentials>
): Layer.Layer<CalSession | CalCodeSession, ConfigError.ConfigError, CalOAuth.CalOAuth | HttpClient.HttpClient>
export function layer(
  options: Options
): Layer.Layer<CalSession, ConfigError.ConfigError, CalOAuth.CalOAuth | HttpClient.HttpClient>
export function layer(
  options: Options
): Layer.Layer<CalSession, ConfigError.ConfigError, CalOAuth.CalOAuth | HttpClient.HttpClient> {
  return Layer.scopedContext(Effect.gen(function*() {
    const credentials = yield* checked(options)
    const built = yield* parts(options, credentials)
    let context: Context.Context<CalSession>
    if (credentials !== undefined && isCode(credentials)) {
      const service = yield* makeCode(built, credentials)
      context = Context.make(CalSession, service).pipe(Context.add(CalCodeSession, service))
    } else {
      const service = yield* makeRefreshToken(built, credentials)
      context = Context.make(CalSession, service).pipe(Context.add(CalRefreshTokenSession, service))
    }
    return context
  }))
}

/**
 * The refresh token from `CAL_REFRESH_TOKEN` (`Redacted`), or `None` when it is not set.
 *
 * @since 0.1.0
 * @category config
 */
export const credentialsConfig: Config.Config<RefreshTokenCredentials | undefined> = Config.map(
  ProviderConfig.optionalCredentials({
    provider: "Cal.com",
    sets: [{
      variables: ["CAL_REFRESH_TOKEN"],
      config: Config.map(ProviderConfig.secret("CAL_REFRESH_TOKEN"), (refreshToken) => ({ refreshToken }))
    }]
  }),
  Option.getOrUndefined
)

/**
 * The session started from the refresh token in `CAL_REFRESH_TOKEN` (see `credentialsConfig`),
 * or the config given. The configured token is used only while the store holds nothing for the
 * session: after the first rotation, a persistent `TokenStore` is what keeps a restart working.
 * When it is not set, the session resumes from the store alone. It provides `CalSession` and
 * `CalRefreshTokenSession`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: AuthSession.SessionConfigOptions<Options<RefreshTokenCredentials>> = {}
): Layer.Layer<
  CalSession | CalRefreshTokenSession,
  ConfigError.ConfigError,
  CalOAuth.CalOAuth | HttpClient.HttpClient
> =>
  Layer.unwrapEffect(
    Effect.map(options.credentials ?? credentialsConfig, (credentials) => layer({ ...options, credentials }))
  )
