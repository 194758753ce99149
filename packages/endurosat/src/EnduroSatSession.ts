/**
 * A self-refreshing EnduroSat session for one user, and an `HttpClient` for the rest of the
 * ground-station API that carries its access token.
 *
 * Cognito shapes the lifecycle: the password grant yields a refresh token whose lifetime the
 * response does not state (30 days unless the app client says otherwise, hence
 * `refreshTokenLifetime`), and the refresh grant does not rotate it. So the session logs in,
 * refreshes the access token with the same refresh token until that one expires (or the server
 * refuses it), then logs in again with the password.
 *
 * The session's error type is exact: the password grant's errors (a refused refresh token is
 * answered by logging in again, and the refresh grant fails with nothing the password grant
 * cannot); `logout` fails with `revoke`'s.
 *
 * @since 0.1.0
 */
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as ProviderConfig from "@effect-auth/core/ProviderConfig"
import * as SessionClient from "@effect-auth/core/SessionClient"
import * as TokenSet from "@effect-auth/core/TokenSet"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as EnduroSatAuth from "./EnduroSatAuth.js"
import * as EnduroSatError from "./EnduroSatError.js"

/**
 * What the session's `token` (and so its client) can fail with: what the password grant can.
 *
 * @since 0.1.0
 * @category errors
 */
export type SessionError = EnduroSatError.AuthenticateError

/**
 * The session's service: the session itself (its `logout` fails with `revoke`'s errors), and an
 * `HttpClient` for the ground-station API (relative URLs resolve against the base URL, absolute
 * ones must stay on its origin; `Authorization: Bearer` is added; a 401 refreshes the token once
 * and retries).
 *
 * @since 0.1.0
 * @category models
 */
export type Service = SessionClient.Authenticated<SessionError, EnduroSatError.RevokeError>

/**
 * An EnduroSat session.
 *
 * @since 0.1.0
 * @category tags
 */
export class EnduroSatSession extends Context.Tag("@effect-auth/endurosat/EnduroSatSession")<
  EnduroSatSession,
  Service
>() {}

/**
 * A user's credentials.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/**
 * How to build a session (see `AuthSession.RevocableSessionOptions`). The default `key` is
 * `endurosat:<client id>:<username>`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends AuthSession.RevocableSessionOptions<Credentials> {
  /**
   * How long a refresh token lives, counted from the login that issued it: the app client's
   * setting in Cognito, which the response does not state. Default: 30 days, Cognito's default.
   * Past it the session logs in again instead of presenting a token the server would refuse.
   */
  readonly refreshTokenLifetime?: Duration.DurationInput | undefined
}

/**
 * Cognito's default refresh token lifetime.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRefreshTokenLifetime: Duration.Duration = Duration.days(30)

// Made by the module rather than in `make`, whose closures would keep its whole scope alive for
// as long as the session lives: the login once for every session (each holds one
// `AuthSession.lazy` over it), the revoke with the service alone.
const login = (
  auth: EnduroSatAuth.Service,
  { credentials, refreshLifetime }: { readonly credentials: Credentials; readonly refreshLifetime: number }
) =>
  Effect.gen(function*() {
    // The lifetime counts from when the server issued the token: at the latest, when the
    // request was sent. Counting from the answer would overshoot by the request's duration.
    const sentAt = yield* Clock.currentTimeMillis
    const tokens = yield* auth.login(credentials)
    return tokens.refreshToken === undefined
      ? tokens
      : new TokenSet.TokenSet({ ...tokens, refreshExpiresAt: sentAt + refreshLifetime })
  })

const revokeWith = (auth: EnduroSatAuth.Service) => (tokens: TokenSet.TokenSet) =>
  tokens.refreshToken === undefined ? Effect.void : auth.revoke(tokens.refreshToken)

/**
 * A session over the `EnduroSatAuth` service in context, living as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<
  Service,
  ConfigError.ConfigError,
  EnduroSatAuth.EnduroSatAuth | HttpClient.HttpClient | Scope.Scope
> =>
  Effect.gen(function*() {
    const credentials = yield* ProviderConfig.requireCredentials(
      "EnduroSat",
      options?.credentials,
      "{ username, password }",
      (given) => ProviderConfig.hasFields(given, ["username", "password"])
    )
    const auth = yield* EnduroSatAuth.EnduroSatAuth
    const refreshLifetime = Duration.toMillis(
      Duration.decode(options.refreshTokenLifetime ?? defaultRefreshTokenLifetime)
    )

    const session = yield* AuthSession.make({
      provider: "endurosat",
      key: options.key ?? `endurosat:${auth.clientId}:${credentials.username}`,
      login: AuthSession.lazy(login, auth, { credentials, refreshLifetime }),
      // The answer carries no refresh token: the session keeps the one it has (`TokenSet.merge`),
      // with its expiry, until the next login replaces it.
      refresh: auth.refresh,
      // Cognito answers 401 for a refresh token that expired, was revoked or is unknown, an RFC 6749
      // server 400 invalid_grant: only a new login helps. Anything else is a passing fault.
      // A predicate, not a refinement: a 400 other than invalid_grant is a passing fault and is
      // returned, so the type keeps every refresh error (the login's errors cover them anyway).
      isRefreshRejected: (error): boolean => EnduroSatError.isRefreshRejected(error),
      // Cognito does not rotate refresh tokens: a refresh whose answer was lost spent nothing.
      refreshGrant: "replayable",
      // Revoking the refresh token also revokes the access tokens issued from it.
      revoke: revokeWith(auth),
      ...AuthSession.passThrough(options)
    })

    const client = yield* SessionClient.make(session, { baseUrl: auth.baseUrl })

    return EnduroSatSession.of({ session, client })
  })

/**
 * The session as a layer. It needs `EnduroSatAuth` (for the app client id and base URL) and an
 * `HttpClient`.
 *
 * @example
 * ```ts
 * import * as EnduroSatAuth from "@effect-auth/endurosat/EnduroSatAuth"
 * import * as EnduroSatSession from "@effect-auth/endurosat/EnduroSatSession"
 * import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
 * import * as Layer from "effect/Layer"
 * import * as Redacted from "effect/Redacted"
 *
 * export const EnduroSatLive = EnduroSatSession.layer({
 *   credentials: { username: "operator@example.com", password: Redacted.make("ground-station-password") },
 *   revokeOnClose: true
 * }).pipe(
 *   Layer.provide(EnduroSatAuth.layer({ clientId: "1example23456789" })),
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<EnduroSatSession, ConfigError.ConfigError, EnduroSatAuth.EnduroSatAuth | HttpClient.HttpClient> =>
  Layer.scoped(EnduroSatSession, make(options))

/**
 * The credentials from `ENDUROSAT_USERNAME` and `ENDUROSAT_PASSWORD` (the password read as
 * `Redacted`). One without the other, or neither, fails with a `ConfigError` naming what is set
 * and missing.
 *
 * @since 0.1.0
 * @category config
 */
export const credentialsConfig: Config.Config<Credentials> = ProviderConfig.credentials({
  provider: "EnduroSat",
  sets: [{
    variables: ["ENDUROSAT_USERNAME", "ENDUROSAT_PASSWORD"],
    config: Config.all({
      username: ProviderConfig.string("ENDUROSAT_USERNAME"),
      password: ProviderConfig.secret("ENDUROSAT_PASSWORD")
    })
  }]
})

/**
 * The session as a layer configured from `Config` (see `credentialsConfig`); the other options
 * are given directly.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: AuthSession.SessionConfigOptions<Options> = {}
): Layer.Layer<EnduroSatSession, ConfigError.ConfigError, EnduroSatAuth.EnduroSatAuth | HttpClient.HttpClient> =>
  Layer.scoped(
    EnduroSatSession,
    Effect.flatMap(options.credentials ?? credentialsConfig, (credentials) => make({ ...options, credentials }))
  )
