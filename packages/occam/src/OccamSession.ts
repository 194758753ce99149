/**
 * A self-refreshing Occam AI session and an authenticated `HttpClient` for Occam's other
 * endpoints, from either a username and password or an API key.
 *
 * - Password: `login`, then `refresh` before each expiry. Occam rotates refresh tokens, so every
 *   refresh presents the token the previous one returned and no token is ever presented twice;
 *   when the refresh token is dead (`RefreshTokenExpired`, `RefreshTokenNotFound`) the session
 *   logs in again.
 * - API key: `tokenFromKey`, and the key exchanged again before each expiry (there is no refresh
 *   token on this path).
 *
 * The client prepends the base URL, adds `Authorization: Bearer`, and on a 401 invalidates the
 * token it sent and retries once with a new one. Occam answers `{"detail":"Token expired"}` for an
 * expired token and another detail for an unknown one; a new token is the remedy for both, so every
 * 401 counts, which is `SessionClient`'s default.
 *
 * @since 0.1.0
 */
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as SessionClient from "@effect-auth/core/SessionClient"
import * as TokenStore from "@effect-auth/core/TokenStore"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as OccamAuth from "./OccamAuth.js"
import * as OccamError from "./OccamError.js"

/**
 * A username and password (and the optional fields of the OAuth2 password form).
 *
 * @since 0.1.0
 * @category models
 */
export type PasswordCredentials = OccamAuth.LoginCredentials

/**
 * An Occam API key (`sk-occam-...`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiKeyCredentials {
  readonly apiKey: Redacted.Redacted<string>
}

/**
 * What a session authenticates with.
 *
 * @since 0.1.0
 * @category models
 */
export type Credentials = PasswordCredentials | ApiKeyCredentials

/**
 * What the session's `token` (and so the authenticated client) can fail with, besides
 * `AuthSession.ReauthenticationRequired`.
 *
 * @since 0.1.0
 * @category errors
 */
export type SessionError = OccamAuth.LoginError | OccamAuth.RefreshError | OccamAuth.TokenFromKeyError

/**
 * The session and the authenticated client.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly session: AuthSession.AuthSession<SessionError>
  /**
   * The `HttpClient` in context with Occam's base URL prepended and the session's bearer token
   * added: `client.get("/agents")`.
   */
  readonly client: HttpClient.HttpClient.With<
    HttpClientError.HttpClientError | SessionError | AuthSession.ReauthenticationRequired | AuthSession.SessionClosed
  >
}

/**
 * The service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class OccamSession extends Context.Tag("@effect-auth/occam/OccamSession")<OccamSession, Service>() {}

/**
 * How to build a session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly credentials: Credentials
  /**
   * The `TokenStore` key. Default: `occam:<username>`, or `occam:key:<fingerprint of the key>` for
   * an API key, so that two keys never share an entry and the key itself never reaches the store.
   */
  readonly key?: string | undefined
  /** Refresh this long before expiry (see `AuthSession.Options`). */
  readonly skew?: Duration.DurationInput | undefined
  /** Refresh up to this much earlier again, at random (see `AuthSession.Options`). */
  readonly jitter?: Duration.DurationInput | undefined
}

const isApiKey = (credentials: Credentials): credentials is ApiKeyCredentials => "apiKey" in credentials

/**
 * Builds the session and the client over the `OccamAuth` and `HttpClient` in context. The session
 * lives (and refreshes) until the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Service, never, OccamAuth.OccamAuth | HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const auth = yield* OccamAuth.OccamAuth
    const credentials = options.credentials
    const session = yield* AuthSession.make<SessionError, never>(
      isApiKey(credentials)
        ? {
          provider: OccamAuth.provider,
          key: options.key ?? `occam:key:${TokenStore.fingerprint(Redacted.value(credentials.apiKey))}`,
          // Built when it runs: a request held by every idle session would cost kilobytes each.
          login: Effect.suspend(() => auth.tokenFromKey(credentials.apiKey)),
          skew: options.skew,
          jitter: options.jitter
        }
        : {
          provider: OccamAuth.provider,
          key: options.key ?? `occam:${credentials.username}`,
          login: Effect.suspend(() => auth.login(credentials)),
          refresh: auth.refresh,
          isRefreshRejected: OccamError.isRefreshRejected,
          skew: options.skew,
          jitter: options.jitter
        }
    )
    const client = yield* SessionClient.make(session, { baseUrl: auth.baseUrl })
    return OccamSession.of({ session, client })
  })

/**
 * The session as a layer: it logs in when first asked for a token and refreshes until the layer
 * is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<OccamSession, never, OccamAuth.OccamAuth | HttpClient.HttpClient> =>
  Layer.scoped(OccamSession, make(options))

/**
 * Credentials from `Config`: `OCCAM_API_KEY` when it is set, else `OCCAM_USERNAME` and
 * `OCCAM_PASSWORD`. Secrets are read with `Config.redacted`.
 *
 * @since 0.1.0
 * @category config
 */
export const credentialsConfig: Config.Config<Credentials> = Config.orElse(
  Config.map(Config.redacted("OCCAM_API_KEY"), (apiKey): Credentials => ({ apiKey })),
  () =>
    Config.map(
      Config.all({ username: Config.string("OCCAM_USERNAME"), password: Config.redacted("OCCAM_PASSWORD") }),
      (login): Credentials => login
    )
)

/**
 * The session as a layer configured from `Config` (see `credentialsConfig`); the other options
 * are given directly.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "credentials"> & { readonly credentials?: Config.Config<Credentials> | undefined } = {}
): Layer.Layer<OccamSession, ConfigError.ConfigError, OccamAuth.OccamAuth | HttpClient.HttpClient> =>
  Layer.scoped(
    OccamSession,
    Effect.flatMap(options.credentials ?? credentialsConfig, (credentials) => make({ ...options, credentials }))
  )
