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
 * The session's error type is exact for its credentials: a password session never fails with
 * `InvalidApiKey`, nor with `RefreshTokenExpired` or `RefreshTokenNotFound` (it logs in again
 * instead); an API-key session never fails with `InvalidCredentials`. Hence three tags: every
 * layer provides `OccamSession` (either kind: what `layerConfig` builds, since the
 * configuration picks the kind), and `layer` also provides `OccamPasswordSession` or
 * `OccamApiKeySession`, whose error types are exact for one kind.
 *
 * The client resolves relative URLs against the base URL (absolute ones must stay on its origin),
 * adds `Authorization: Bearer`, and on a 401 invalidates the
 * token it sent and retries once with a new one. Occam answers `{"detail":"Token expired"}` for an
 * expired token and another detail for an unknown one; a new token is the remedy for both, so every
 * 401 counts, which is `SessionClient`'s default.
 *
 * @since 0.1.0
 */
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as ProviderConfig from "@effect-auth/core/ProviderConfig"
import * as SessionClient from "@effect-auth/core/SessionClient"
import type * as TokenSet from "@effect-auth/core/TokenSet"
import * as TokenStore from "@effect-auth/core/TokenStore"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
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
 * An Occam API key (`sk-occam-...`): a secret, since it authenticates alone.
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
 * What a password session's `token` (and so its client) can fail with: the login's errors, and
 * the refresh's besides `RefreshTokenExpired` and `RefreshTokenNotFound`, which it answers by
 * logging in again.
 *
 * @since 0.1.0
 * @category errors
 */
export type PasswordError = OccamAuth.LoginError | Exclude<OccamAuth.RefreshError, OccamError.RefreshRejected>

/**
 * What an API-key session's `token` (and so its client) can fail with: `tokenFromKey`'s errors.
 *
 * @since 0.1.0
 * @category errors
 */
export type ApiKeyError = OccamAuth.TokenFromKeyError

/**
 * What a session of either kind can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type SessionError = PasswordError | ApiKeyError

/**
 * The session and the authenticated client (`client.get("/agents")`), for a session failing
 * with `E`.
 *
 * @since 0.1.0
 * @category models
 */
export type Service<E = SessionError> = SessionClient.Authenticated<E>

const tagPrefix = "@effect-auth/occam/"

/**
 * An Occam session of either kind: what every layer of this module provides.
 *
 * @since 0.1.0
 * @category tags
 */
export class OccamSession extends Context.Tag(`${tagPrefix}OccamSession`)<OccamSession, Service>() {}

/**
 * A password session, with its exact error type: provided by `layer` given a username and password.
 *
 * @since 0.1.0
 * @category tags
 */
export class OccamPasswordSession extends Context.Tag(`${tagPrefix}OccamPasswordSession`)<
  OccamPasswordSession,
  Service<PasswordError>
>() {}

/**
 * An API-key session, with its exact error type: provided by `layer` given an API key.
 *
 * @since 0.1.0
 * @category tags
 */
export class OccamApiKeySession extends Context.Tag(`${tagPrefix}OccamApiKeySession`)<
  OccamApiKeySession,
  Service<ApiKeyError>
>() {}

/**
 * How to build a session (see `AuthSession.SessionOptions`). The default `key` is
 * `occam:<username>`, or `occam:key:<fingerprint of the key>` for an API key, so that two keys
 * never share an entry and the key itself never reaches the store.
 *
 * @since 0.1.0
 * @category models
 */
export type Options<C extends Credentials = Credentials> = AuthSession.SessionOptions<C>

const isApiKey = (credentials: Credentials): credentials is ApiKeyCredentials => "apiKey" in credentials

const providerName = "Occam AI"

// The logins, made once for every session: each session holds one `AuthSession.lazy` over one
// of them, its service and its credentials.
const passwordLogin = (auth: OccamAuth.Service, credentials: PasswordCredentials) => auth.login(credentials)
const apiKeyLogin = (auth: OccamAuth.Service, credentials: ApiKeyCredentials) => auth.tokenFromKey(credentials.apiKey)

/**
 * Builds the session and the client over the `OccamAuth` and `HttpClient` in context. The session
 * lives (and refreshes) until the scope closes. Missing or misshapen credentials fail with a
 * `ConfigError` at `credentials`.
 *
 * @since 0.1.0
 * @category constructors
 */
export function make(
  options: Options<PasswordCredentials>
): Effect.Effect<
  Service<PasswordError>,
  ConfigError.ConfigError,
  OccamAuth.OccamAuth | HttpClient.HttpClient | Scope.Scope
>
export function make(
  options: Options<ApiKeyCredentials>
): Effect.Effect<
  Service<ApiKeyError>,
  ConfigError.ConfigError,
  OccamAuth.OccamAuth | HttpClient.HttpClient | Scope.Scope
>
export function make(
  options: Options
): Effect.Effect<Service, ConfigError.ConfigError, OccamAuth.OccamAuth | HttpClient.HttpClient | Scope.Scope>
export function make(
  options: Options
): Effect.Effect<Service, ConfigError.ConfigError, OccamAuth.OccamAuth | HttpClient.HttpClient | Scope.Scope> {
  return Effect.gen(function*() {
    const credentials = yield* ProviderConfig.requireCredentials(
      providerName,
      options?.credentials,
      "{ username, password } or { apiKey }",
      (credentials: Credentials) =>
        ProviderConfig.hasFields(credentials, ["apiKey"]) ||
        ProviderConfig.hasFields(credentials, ["username", "password"])
    )
    const auth = yield* OccamAuth.OccamAuth
    // Built when it runs: a request held by every idle session would cost kilobytes each.
    const login: Effect.Effect<TokenSet.TokenSet, ApiKeyError | OccamAuth.LoginError> = isApiKey(credentials)
      ? AuthSession.lazy(apiKeyLogin, auth, credentials)
      : AuthSession.lazy(passwordLogin, auth, credentials)
    // An API-key session has no refresh token: it exchanges the key again. Its error type is
    // `ApiKeyError` (see the signatures above), since `refresh` is never called.
    const session = yield* AuthSession.make({
      provider: OccamAuth.provider,
      key: options.key ?? (isApiKey(credentials)
        ? `occam:key:${TokenStore.fingerprint(Redacted.value(credentials.apiKey))}`
        : `occam:${credentials.username}`),
      login,
      refresh: isApiKey(credentials) ? undefined : auth.refresh,
      isRefreshRejected: OccamError.isRefreshRejected,
      ...AuthSession.passThrough(options)
    })
    return yield* SessionClient.authenticated(session, { baseUrl: auth.baseUrl })
  })
}

/**
 * The session as a layer: it logs in when first asked for a token and refreshes until the layer
 * is released. It provides `OccamSession`, and `OccamPasswordSession` or `OccamApiKeySession`
 * for the kind of credentials given.
 *
 * @since 0.1.0
 * @category layers
 */
export function layer(
  options: Options<PasswordCredentials>
): Layer.Layer<
  OccamSession | OccamPasswordSession,
  ConfigError.ConfigError,
  OccamAuth.OccamAuth | HttpClient.HttpClient
>
export function layer(
  options: Options<ApiKeyCredentials>
): Layer.Layer<OccamSession | OccamApiKeySession, ConfigError.ConfigError, OccamAuth.OccamAuth | HttpClient.HttpClient>
export function layer(
  options: Options
): Layer.Layer<OccamSession, ConfigError.ConfigError, OccamAuth.OccamAuth | HttpClient.HttpClient>
export function layer(
  options: Options
): Layer.Layer<OccamSession, ConfigError.ConfigError, OccamAuth.OccamAuth | HttpClient.HttpClient> {
  return Layer.scopedContext(Effect.map(make(options), (service) =>
    Context.make(OccamSession, service).pipe(
      // `make` has checked the credentials, and built the service of their kind.
      Context.add(
        (isApiKey(options.credentials!) ? OccamApiKeySession : OccamPasswordSession) as Context.Tag<
          OccamApiKeySession | OccamPasswordSession,
          Service
        >,
        service
      )
    )))
}

const apiKeyVariable = "OCCAM_API_KEY"
const usernameVariable = "OCCAM_USERNAME"
const passwordVariable = "OCCAM_PASSWORD"

/**
 * Credentials from `Config`: `OCCAM_API_KEY` when it is set, else `OCCAM_USERNAME` and
 * `OCCAM_PASSWORD` (secrets read as `Redacted`). Some of them without a complete set (a username
 * without a password, say), or none at all, fails with a `ConfigError` naming what is set and
 * what is missing.
 *
 * @since 0.1.0
 * @category config
 */
export const credentialsConfig: Config.Config<Credentials> = ProviderConfig.credentials<Credentials>({
  provider: providerName,
  sets: [
    {
      variables: [apiKeyVariable],
      config: Config.map(ProviderConfig.secret(apiKeyVariable), (apiKey) => ({ apiKey }))
    },
    {
      variables: [usernameVariable, passwordVariable],
      config: Config.all({
        username: ProviderConfig.string(usernameVariable),
        password: ProviderConfig.secret(passwordVariable)
      })
    }
  ]
})

/**
 * The session as a layer configured from `Config` (see `credentialsConfig`); the other options
 * are given directly. The configuration decides the kind of credentials, so it provides
 * `OccamSession` only. A bad configuration fails when the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: AuthSession.SessionConfigOptions<Options> = {}
): Layer.Layer<OccamSession, ConfigError.ConfigError, OccamAuth.OccamAuth | HttpClient.HttpClient> =>
  Layer.unwrapEffect(
    Effect.map(options.credentials ?? credentialsConfig, (credentials) => layer({ ...options, credentials }))
  )
