/**
 * The Occam AI token API (`/auth/...`) as an Effect service: a password login, a rotating refresh
 * and an API-key exchange, each with a typed error for every documented status.
 *
 * The three endpoints encode their requests three ways: `login` posts an OAuth2 password form,
 * `refresh` posts JSON, and `tokenFromKey` sends the key as a query parameter of a GET. Expiry
 * times arrive as absolute timestamps whose unit Occam does not document; they are read as
 * seconds unless only milliseconds make sense (see `TokenSet.fromExpiresAt`).
 *
 * @since 0.1.0
 */
import type * as AuthError from "@effect-auth/core/AuthError"
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as ProviderConfig from "@effect-auth/core/ProviderConfig"
import type * as RetryPolicy from "@effect-auth/core/RetryPolicy"
import * as TokenSet from "@effect-auth/core/TokenSet"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as OccamError from "./OccamError.js"

/**
 * The production API.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://api.occam.ai"

/**
 * The provider name carried by spans, errors and sessions.
 *
 * @since 0.1.0
 * @category constants
 */
export const provider = "occam"

/**
 * What `login` sends. `scope`, `clientId` and `clientSecret` are the optional fields of the OAuth2
 * password form; each is sent only when given.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoginCredentials {
  readonly username: string
  readonly password: Redacted.Redacted<string>
  readonly scope?: string | undefined
  readonly clientId?: string | undefined
  readonly clientSecret?: Redacted.Redacted<string> | undefined
}

/**
 * What `login` can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type LoginError = OccamError.InvalidCredentials | OccamError.ValidationError | AuthError.AuthError

/**
 * What `refresh` can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type RefreshError =
  | OccamError.RefreshTokenExpired
  | OccamError.RefreshTokenNotFound
  | OccamError.ValidationError
  | AuthError.AuthError

/**
 * What `tokenFromKey` can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type TokenFromKeyError = OccamError.InvalidApiKey | OccamError.ValidationError | AuthError.AuthError

/**
 * The Occam token API.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The base URL the service sends to, without a trailing slash. */
  readonly baseUrl: string
  /**
   * `POST /auth/access-token` (form, `grant_type=password`): an access token and a refresh token.
   * Replayable: retried on 5xx, resets and timeouts as well as 429/503.
   */
  readonly login: (credentials: LoginCredentials) => Effect.Effect<TokenSet.TokenSet, LoginError>
  /**
   * `POST /auth/refresh-token` (JSON `{ refresh_token }`): a new pair. The refresh token is spent
   * once the server sees it, so the request is never re-sent after it may have arrived.
   */
  readonly refresh: (refreshToken: Redacted.Redacted<string>) => Effect.Effect<TokenSet.TokenSet, RefreshError>
  /**
   * `GET /auth/access-token?key=...`: an access token for an API key, without a refresh token.
   * Replayable.
   */
  readonly tokenFromKey: (apiKey: Redacted.Redacted<string>) => Effect.Effect<TokenSet.TokenSet, TokenFromKeyError>
}

/**
 * The service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class OccamAuth extends Context.Tag("@effect-auth/occam/OccamAuth")<OccamAuth, Service>() {}

// -----------------------------------------------------------------------------
// wire formats
// -----------------------------------------------------------------------------

const Token = Schema.Redacted(Schema.NonEmptyString)

/** `AccessTokenResponse`, the answer to an API key: `token_type` defaults to "Bearer" on the server. */
const AccessTokenResponse = Schema.Struct({
  token_type: Schema.optional(Schema.String),
  access_token: Token,
  expires_at: Schema.Number
})

/** `AccessAndRefreshTokenResponse`, the answer to login and refresh. */
const AccessAndRefreshTokenResponse = Schema.Struct({
  ...AccessTokenResponse.fields,
  refresh_token: Token,
  refresh_token_expires_at: Schema.Number
})

/**
 * The 200 of every operation: a token (and for login and refresh a refresh token) with absolute
 * expiries, written on the server's clock and moved onto ours.
 */
const tokens = <
  A extends typeof AccessTokenResponse.Type & {
    readonly refresh_token?: Redacted.Redacted<string>
    readonly refresh_token_expires_at?: number
  },
  I
>(schema: Schema.Schema<A, I>, scope?: string) =>
  Endpoint.decode(schema, (body, response) =>
    Effect.succeed(TokenSet.fromExpiresAt({
      accessToken: body.access_token,
      tokenType: body.token_type,
      expiresAt: body.expires_at,
      refreshToken: body.refresh_token,
      refreshExpiresAt: body.refresh_token_expires_at,
      clockOffset: response.clockOffset,
      scope
    })))

/**
 * A handler of an untyped 400 or 404: the error of that status, with the `detail` of the body
 * when it is FastAPI's `{"detail": "..."}` (at most 500 characters: a FastAPI message is one
 * short sentence). Any other body (HTML from a proxy, an empty body, a structured detail) gives
 * no `detail`, and the status alone decides. The pipeline has already scrubbed the request's
 * secrets.
 */
const rejected = <E>(
  error: new(fields: { readonly operation: string; readonly detail?: string | undefined }) => E
): Endpoint.Handler<never, E> =>
(response) => {
  let detail: unknown
  try {
    detail = response.oversized ? undefined : JSON.parse(response.body)?.detail
  } catch {
    // not JSON: no detail
  }
  return Effect.fail(
    new error({ operation: response.operation, detail: typeof detail === "string" ? detail.slice(0, 500) : undefined })
  )
}

/** The 422 of every operation: FastAPI's validation error list. */
const invalid = Endpoint.fail(
  OccamError.HttpValidationError,
  (body, response) => new OccamError.ValidationError({ operation: response.operation, detail: body.detail ?? [] })
)

const accessTokenPath = "/auth/access-token"

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Builds the service over the `HttpClient` in context (and the `Endpoint.EndpointSettings`, if
 * provided).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: { readonly baseUrl?: string | undefined } = {}
): Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Effect.map(Endpoint.makeClient({ baseUrl: options.baseUrl ?? defaultBaseUrl, provider }), (client): Service => {
    // Every secret rides in a field or parameter whose name says so (`password`, `client_secret`,
    // `refresh_token`, `key`), so `Endpoint` scrubs it without being told.
    const call = <A, E, const R extends Endpoint.Responses>(
      operation: string,
      grant: RetryPolicy.Grant,
      request: HttpClientRequest.HttpClientRequest,
      ok: Endpoint.Handler<A, E>,
      errors: R
    ) => client.execute({ operation, grant, request, responses: { ...errors, 200: ok, 422: invalid } })
    return {
      baseUrl: client.baseUrl,
      login: (credentials) =>
        call(
          "occam.login",
          "replayable",
          HttpClientRequest.post(accessTokenPath).pipe(HttpClientRequest.bodyUrlParams({
            grant_type: "password",
            username: credentials.username,
            password: Redacted.value(credentials.password),
            // The optional fields of the form, sent only when given (`undefined` is left out).
            scope: credentials.scope,
            client_id: credentials.clientId,
            client_secret: credentials.clientSecret && Redacted.value(credentials.clientSecret)
          })),
          tokens(AccessAndRefreshTokenResponse, credentials.scope),
          { 400: rejected(OccamError.InvalidCredentials) }
        ),
      refresh: (refreshToken) =>
        call(
          "occam.refresh",
          "single-use",
          HttpClientRequest.post("/auth/refresh-token").pipe(
            HttpClientRequest.bodyUnsafeJson({ refresh_token: Redacted.value(refreshToken) })
          ),
          tokens(AccessAndRefreshTokenResponse),
          { 400: rejected(OccamError.RefreshTokenExpired), 404: rejected(OccamError.RefreshTokenNotFound) }
        ),
      tokenFromKey: (apiKey) =>
        call(
          "occam.tokenFromKey",
          "replayable",
          // The key rides in the query string, as the API wants; `Endpoint` keeps URLs with query
          // parameters out of the platform's spans.
          HttpClientRequest.get(accessTokenPath).pipe(HttpClientRequest.setUrlParam("key", Redacted.value(apiKey))),
          tokens(AccessTokenResponse),
          { 400: rejected(OccamError.InvalidApiKey) }
        )
    }
  })

/**
 * The service as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: { readonly baseUrl?: string | undefined } = {}
): Layer.Layer<OccamAuth, ConfigError.ConfigError, HttpClient.HttpClient> => Layer.effect(OccamAuth, make(options))

/**
 * `OCCAM_BASE_URL`, defaulting to `https://api.occam.ai`; a value that is not a usable base URL
 * fails with a `ConfigError` at `OCCAM_BASE_URL`.
 *
 * @since 0.1.0
 * @category config
 */
export const baseUrlConfig: Config.Config<string> = ProviderConfig.baseUrl("OCCAM_BASE_URL", {
  default: defaultBaseUrl
})

/**
 * The service as a layer configured from `Config`: by default the base URL comes from
 * `OCCAM_BASE_URL` (and defaults to `https://api.occam.ai`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: { readonly baseUrl?: Config.Config<string> | undefined } = {}
): Layer.Layer<OccamAuth, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    OccamAuth,
    Effect.flatMap(options.baseUrl ?? baseUrlConfig, (baseUrl) => make({ baseUrl }))
  )
