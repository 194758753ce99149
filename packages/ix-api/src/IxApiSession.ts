/**
 * A self-refreshing IX-API session from an API key and secret, and an authenticated
 * `HttpClient` for the rest of IX-API.
 *
 * The session creates a token pair (`createToken`), refreshes it before the access token's JWT
 * `exp` (`refreshToken`, presenting each rotated refresh token once), and creates a new pair
 * from the key and secret when the refresh token is refused (`signature-expired` once it has
 * expired). Tokens without a readable expiry are renewed when the server answers 401.
 *
 * The session's error type is exact: `createToken`'s errors (a rejected refresh is answered by
 * creating a new pair, so the refresh adds none of its own).
 *
 * The client resolves relative URLs against the base URL (absolute ones must stay on its origin),
 * adds `Authorization: Bearer`, and on a 401 invalidates the
 * token it sent and retries once with a new one.
 *
 * @since 0.1.0
 */
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as ProviderConfig from "@effect-auth/core/ProviderConfig"
import * as SessionClient from "@effect-auth/core/SessionClient"
import * as TokenStore from "@effect-auth/core/TokenStore"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as IxApiAuth from "./IxApiAuth.js"
import type * as IxApiError from "./IxApiError.js"

/**
 * What the session's `token` (and so its client) can fail with: what `createToken` can. The
 * refresh's 400 and 401 mean the refresh token is of no further use and are answered by creating
 * a new pair; its other errors are `createToken`'s too.
 *
 * @since 0.1.0
 * @category errors
 */
export type SessionError = IxApiAuth.Failure

/**
 * The session and the authenticated client (`client.get("/accounts")`).
 *
 * @since 0.1.0
 * @category models
 */
export type Service = SessionClient.Authenticated<SessionError>

/**
 * The service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class IxApiSession extends Context.Tag("@effect-auth/ix-api/IxApiSession")<IxApiSession, Service>() {}

/**
 * How to build a session (see `AuthSession.SessionOptions`). The default `key` is
 * `ix-api:<base URL>:<fingerprint of the API key>`, so sessions of two API users of one IXP do
 * not share tokens.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = AuthSession.SessionOptions<IxApiAuth.Credentials>

/**
 * Whether a refresh failure means the refresh token is of no further use, so that the session
 * creates a new token from the key and secret: any 401 (`signature-expired`, or an invalid or
 * already used token) and any 400 (a refresh token the server cannot even parse).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRefreshRejected = (error: IxApiAuth.Failure): error is IxApiError.IxApiError =>
  error._tag === "AuthenticationError" || error._tag === "ValidationError"

// The login, made once for every session: each session holds one `AuthSession.lazy` over it,
// its service and its credentials.
const createToken = (auth: IxApiAuth.Service, credentials: IxApiAuth.Credentials) => auth.createToken(credentials)

/**
 * Builds the session and the client over the `IxApiAuth` and `HttpClient` in context. The
 * session lives (and refreshes) until the scope closes; it creates its first token when first
 * asked for one. Missing credentials fail with a `ConfigError` at `credentials`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Service, ConfigError.ConfigError, IxApiAuth.IxApiAuth | HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const credentials = yield* ProviderConfig.requireCredentials(
      "IX-API",
      options?.credentials,
      "{ apiKey, apiSecret }",
      (given) => ProviderConfig.hasFields(given, ["apiKey", "apiSecret"])
    )
    const auth = yield* IxApiAuth.IxApiAuth
    const session = yield* AuthSession.make({
      provider: IxApiAuth.provider,
      key: options.key ?? defaultKey(auth.baseUrl, credentials.apiKey),
      // Built when it runs: a request held by every idle session would cost kilobytes each.
      login: AuthSession.lazy(createToken, auth, credentials),
      refresh: auth.refreshToken,
      isRefreshRejected,
      ...AuthSession.passThrough(options)
    })
    const client = yield* SessionClient.make(session, { baseUrl: auth.baseUrl })
    return IxApiSession.of({ session, client })
  })

/**
 * The session as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<IxApiSession, ConfigError.ConfigError, IxApiAuth.IxApiAuth | HttpClient.HttpClient> =>
  Layer.scoped(IxApiSession, make(options))

/**
 * The credentials from `IXAPI_API_KEY` and `IXAPI_API_SECRET` (the secret read as `Redacted`).
 * One without the other, or neither, fails with a `ConfigError` naming what is set and missing.
 *
 * @since 0.1.0
 * @category config
 */
export const credentialsConfig: Config.Config<IxApiAuth.Credentials> = ProviderConfig.credentials({
  provider: "IX-API",
  sets: [{
    variables: ["IXAPI_API_KEY", "IXAPI_API_SECRET"],
    config: Config.all({
      apiKey: ProviderConfig.string("IXAPI_API_KEY"),
      apiSecret: ProviderConfig.secret("IXAPI_API_SECRET")
    })
  }]
})

/**
 * The session as a layer configured from `Config` (see `credentialsConfig`); the other options
 * are given directly. Pair it with `IxApiAuth.layerConfig()`, which reads `IXAPI_BASE_URL`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: AuthSession.SessionConfigOptions<Options> = {}
): Layer.Layer<IxApiSession, ConfigError.ConfigError, IxApiAuth.IxApiAuth | HttpClient.HttpClient> =>
  Layer.scoped(
    IxApiSession,
    Effect.flatMap(options.credentials ?? credentialsConfig, (credentials) => make({ ...options, credentials }))
  )

const defaultKey = (baseUrl: string, apiKey: string): string =>
  `${IxApiAuth.provider}:${baseUrl}:${TokenStore.fingerprint(apiKey)}`
