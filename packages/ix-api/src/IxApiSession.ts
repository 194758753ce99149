/**
 * A self-refreshing IX-API session from an API key and secret, and an authenticated
 * `HttpClient` for the rest of IX-API.
 *
 * The session creates a token pair (`createToken`), refreshes it before the access token's JWT
 * `exp` (`refreshToken`, presenting each rotated refresh token once), and creates a new pair
 * from the key and secret when the refresh token is refused (`signature-expired` once it has
 * expired). Tokens without a readable expiry are renewed when the server answers 401.
 *
 * The client prepends the base URL, adds `Authorization: Bearer`, and on a 401 invalidates the
 * token it sent and retries once with a new one.
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
import * as IxApiAuth from "./IxApiAuth.js"

/**
 * The session and the authenticated client.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly session: AuthSession.AuthSession<IxApiAuth.Failure>
  /**
   * The `HttpClient` in context with the IX-API base URL prepended and the session's bearer
   * token added: `client.get("/accounts")`.
   */
  readonly client: HttpClient.HttpClient.With<
    | HttpClientError.HttpClientError
    | IxApiAuth.Failure
    | AuthSession.ReauthenticationRequired
    | AuthSession.SessionClosed
  >
}

/**
 * The service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class IxApiSession extends Context.Tag("@effect-auth/ix-api/IxApiSession")<IxApiSession, Service>() {}

/**
 * How to build a session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly credentials: IxApiAuth.Credentials
  /**
   * The `TokenStore` key. Default: `ix-api:<base URL>:<hash of the API key>`, so sessions of two
   * API users of one IXP do not share tokens, and the key itself never reaches the store.
   */
  readonly key?: string | undefined
  /** Refresh this long before expiry (see `AuthSession.Options`). */
  readonly skew?: Duration.DurationInput | undefined
  /** Refresh up to this much earlier again, at random (see `AuthSession.Options`). */
  readonly jitter?: Duration.DurationInput | undefined
}

/**
 * Whether a refresh failure means the refresh token is of no further use, so that the session
 * creates a new token from the key and secret: any 401 (`signature-expired`, or an invalid or
 * already used token) and any 400 (a refresh token the server cannot even parse).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRefreshRejected = (error: IxApiAuth.Failure): boolean =>
  error._tag === "AuthenticationError" || error._tag === "ValidationError"

/**
 * Builds the session and the client over the `IxApiAuth` and `HttpClient` in context. The
 * session lives (and refreshes) until the scope closes; it creates its first token when first
 * asked for one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Service, never, IxApiAuth.IxApiAuth | HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const auth = yield* IxApiAuth.IxApiAuth
    const session = yield* AuthSession.make<IxApiAuth.Failure, never>({
      provider: IxApiAuth.provider,
      key: options.key ?? defaultKey(auth.baseUrl, options.credentials.apiKey),
      // Built when it runs: a request held by every idle session would cost kilobytes each.
      login: Effect.suspend(() => auth.createToken(options.credentials)),
      refresh: auth.refreshToken,
      isRefreshRejected,
      skew: options.skew,
      jitter: options.jitter
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
): Layer.Layer<IxApiSession, never, IxApiAuth.IxApiAuth | HttpClient.HttpClient> =>
  Layer.scoped(IxApiSession, make(options))

/**
 * The credentials from `IXAPI_API_KEY` and `IXAPI_API_SECRET`, both read with `Config.redacted`.
 *
 * @since 0.1.0
 * @category config
 */
export const credentialsConfig: Config.Config<IxApiAuth.Credentials> = Config.all({
  apiKey: Config.redacted("IXAPI_API_KEY"),
  apiSecret: Config.redacted("IXAPI_API_SECRET")
})

/**
 * The session as a layer configured from `Config` (see `credentialsConfig`); the other options
 * are given directly. Pair it with `IxApiAuth.layerConfig()`, which reads `IXAPI_BASE_URL`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "credentials"> & {
    readonly credentials?: Config.Config<IxApiAuth.Credentials> | undefined
  } = {}
): Layer.Layer<IxApiSession, ConfigError.ConfigError, IxApiAuth.IxApiAuth | HttpClient.HttpClient> =>
  Layer.scoped(
    IxApiSession,
    Effect.flatMap(options.credentials ?? credentialsConfig, (credentials) => make({ ...options, credentials }))
  )

const defaultKey = (baseUrl: string, apiKey: Redacted.Redacted<string>): string =>
  `${IxApiAuth.provider}:${baseUrl}:${TokenStore.fingerprint(Redacted.value(apiKey))}`
