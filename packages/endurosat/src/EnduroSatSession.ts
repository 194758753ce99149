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
 * @since 0.1.0
 */
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as SessionClient from "@effect-auth/core/SessionClient"
import * as TokenSet from "@effect-auth/core/TokenSet"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
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
 * The session's service: the session itself, and an `HttpClient` for the ground-station API
 * (relative URLs resolve against the base URL; `Authorization: Bearer` is added; a 401 refreshes
 * the token once and retries).
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly session: AuthSession.AuthSession<EnduroSatError.AuthenticateError>
  readonly client: HttpClient.HttpClient.With<
    | HttpClientError.HttpClientError
    | EnduroSatError.AuthenticateError
    | AuthSession.ReauthenticationRequired
    | AuthSession.SessionClosed
  >
}

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
 * How to build a session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly username: string
  readonly password: Redacted.Redacted<string>
  /**
   * How long a refresh token lives, counted from the login that issued it: the app client's
   * setting in Cognito, which the response does not state. Default: 30 days, Cognito's default.
   * Past it the session logs in again instead of presenting a token the server would refuse.
   */
  readonly refreshTokenLifetime?: Duration.DurationInput | undefined
  /** Revoke the refresh token when the session's scope closes. Default: false. */
  readonly revokeOnClose?: boolean | undefined
  /** The `TokenStore` key. Default: `endurosat:<client id>:<username>`. */
  readonly key?: string | undefined
  /** Refresh this long before the access token expires. Default: `AuthSession`'s. */
  readonly skew?: Duration.DurationInput | undefined
  /** Refresh up to this much earlier again, at random. Default: `AuthSession`'s. */
  readonly jitter?: Duration.DurationInput | undefined
}

/**
 * Cognito's default refresh token lifetime.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRefreshTokenLifetime: Duration.Duration = Duration.days(30)

/**
 * A session over the `EnduroSatAuth` service in context, living as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Service, never, EnduroSatAuth.EnduroSatAuth | HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const auth = yield* EnduroSatAuth.EnduroSatAuth
    const refreshLifetime = Duration.toMillis(
      Duration.decode(options.refreshTokenLifetime ?? defaultRefreshTokenLifetime)
    )

    const login = Effect.gen(function*() {
      // The lifetime counts from when the server issued the token: at the latest, when the
      // request was sent. Counting from the answer would overshoot by the request's duration.
      const sentAt = yield* Clock.currentTimeMillis
      const tokens = yield* auth.login({ username: options.username, password: options.password })
      return tokens.refreshToken === undefined
        ? tokens
        : new TokenSet.TokenSet({ ...tokens, refreshExpiresAt: sentAt + refreshLifetime })
    })

    const session = yield* AuthSession.make<EnduroSatError.AuthenticateError, never>({
      provider: "endurosat",
      key: options.key ?? `endurosat:${auth.clientId}:${options.username}`,
      login,
      // The answer carries no refresh token: the session keeps the one it has (`TokenSet.merge`),
      // with its expiry, until the next login replaces it.
      refresh: (refreshToken) => auth.refresh(refreshToken),
      // Cognito answers 401 for a refresh token that expired, was revoked or is unknown, an RFC 6749
      // server 400 invalid_grant: only a new login helps. Anything else is a passing fault.
      isRefreshRejected: EnduroSatError.isRefreshRejected,
      // Cognito does not rotate refresh tokens: a refresh whose answer was lost spent nothing.
      refreshGrant: "replayable",
      // Revoking the refresh token also revokes the access tokens issued from it.
      revoke: (tokens) => tokens.refreshToken === undefined ? Effect.void : auth.revoke(tokens.refreshToken),
      revokeOnClose: options.revokeOnClose,
      skew: options.skew,
      jitter: options.jitter
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
 *   username: "operator@example.com",
 *   password: Redacted.make("ground-station-password"),
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
): Layer.Layer<EnduroSatSession, never, EnduroSatAuth.EnduroSatAuth | HttpClient.HttpClient> =>
  Layer.scoped(EnduroSatSession, make(options))

/**
 * The session as a layer configured from `Config`: by default `ENDUROSAT_USERNAME` and
 * `ENDUROSAT_PASSWORD` (read as a secret); the other options are plain values.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "username" | "password"> & {
    readonly username?: Config.Config<string> | undefined
    readonly password?: Config.Config<Redacted.Redacted<string>> | undefined
  } = {}
): Layer.Layer<EnduroSatSession, ConfigError.ConfigError, EnduroSatAuth.EnduroSatAuth | HttpClient.HttpClient> =>
  Layer.scoped(
    EnduroSatSession,
    Effect.flatMap(
      Config.all({
        username: options.username ?? Config.nonEmptyString("ENDUROSAT_USERNAME"),
        password: options.password ?? Config.redacted("ENDUROSAT_PASSWORD")
      }),
      (credentials) => make({ ...options, ...credentials })
    )
  )
