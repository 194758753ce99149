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
import * as TokenSet from "@effect-auth/core/TokenSet"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
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

/** `AccessAndRefreshTokenResponse`: `token_type` defaults to "Bearer" on the server. */
const AccessAndRefreshTokenResponse = Schema.Struct({
  token_type: Schema.optional(Schema.String),
  access_token: Token,
  expires_at: Schema.Number,
  refresh_token: Token,
  refresh_token_expires_at: Schema.Number
})

/** `AccessTokenResponse`, the answer to an API key. */
const AccessTokenResponse = Schema.Struct({
  token_type: Schema.optional(Schema.String),
  access_token: Token,
  expires_at: Schema.Number
})

/** FastAPI's `HTTPException` body. */
const HttpExceptionBody = Schema.parseJson(Schema.Struct({ detail: Schema.String }))
const decodeHttpException = Schema.decodeUnknownOption(HttpExceptionBody)

/** The longest `detail` an error keeps: a FastAPI message is one short sentence. */
const maxDetailLength = 500

/**
 * The `detail` of an untyped 400/404 body, when the body is FastAPI's `{"detail": "..."}`; any
 * other body (HTML from a proxy, an empty body, a structured detail) gives `undefined`, and the
 * status alone decides the error. The pipeline has already scrubbed the request's secrets.
 */
const httpExceptionDetail = (response: Endpoint.Response): string | undefined =>
  response.oversized ? undefined : decodeHttpException(response.body).pipe(
    Option.map((body) => body.detail.slice(0, maxDetailLength)),
    Option.getOrUndefined
  )

const validationError = (operation: string) =>
  Endpoint.fail(
    OccamError.HttpValidationError,
    (body) => new OccamError.ValidationError({ operation, detail: body.detail ?? [] })
  )

/**
 * The 200 of login and refresh: an access and refresh token pair with absolute expiries, written
 * on the server's clock and moved onto ours.
 */
const tokenPair = (scope: string | undefined) =>
  Endpoint.decode(AccessAndRefreshTokenResponse, (body, response) =>
    Effect.succeed(TokenSet.fromExpiresAt({
      accessToken: body.access_token,
      tokenType: body.token_type,
      expiresAt: body.expires_at,
      refreshToken: body.refresh_token,
      refreshExpiresAt: body.refresh_token_expires_at,
      clockOffset: response.clockOffset,
      scope
    })))

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
  Effect.gen(function*() {
    const baseUrl = (options.baseUrl ?? defaultBaseUrl).replace(/\/+$/, "")
    const client = yield* Endpoint.makeClient({ baseUrl, provider })

    const login = (credentials: LoginCredentials) => {
      const operation = "occam.login"
      const secrets = credentials.clientSecret === undefined
        ? [credentials.password]
        : [credentials.password, credentials.clientSecret]
      const form: Array<readonly [string, string]> = [
        ["grant_type", "password"],
        ["username", credentials.username],
        ["password", Redacted.value(credentials.password)]
      ]
      if (credentials.scope !== undefined) form.push(["scope", credentials.scope])
      if (credentials.clientId !== undefined) form.push(["client_id", credentials.clientId])
      if (credentials.clientSecret !== undefined) {
        form.push(["client_secret", Redacted.value(credentials.clientSecret)])
      }
      return client.execute({
        operation,
        grant: "replayable",
        request: HttpClientRequest.post("/auth/access-token").pipe(HttpClientRequest.bodyUrlParams(form)),
        secrets,
        responses: {
          200: tokenPair(credentials.scope),
          400: (response) =>
            Effect.fail(
              new OccamError.InvalidCredentials({ operation, detail: httpExceptionDetail(response) })
            ),
          422: validationError(operation)
        }
      })
    }

    const refresh = (refreshToken: Redacted.Redacted<string>) => {
      const operation = "occam.refresh"
      const secrets = [refreshToken]
      return client.execute({
        operation,
        grant: "single-use",
        request: HttpClientRequest.post("/auth/refresh-token").pipe(
          HttpClientRequest.bodyUnsafeJson({ refresh_token: Redacted.value(refreshToken) })
        ),
        secrets,
        responses: {
          200: tokenPair(undefined),
          400: (response) =>
            Effect.fail(
              new OccamError.RefreshTokenExpired({ operation, detail: httpExceptionDetail(response) })
            ),
          404: (response) =>
            Effect.fail(
              new OccamError.RefreshTokenNotFound({ operation, detail: httpExceptionDetail(response) })
            ),
          422: validationError(operation)
        }
      })
    }

    const tokenFromKey = (apiKey: Redacted.Redacted<string>) => {
      const operation = "occam.tokenFromKey"
      const secrets = [apiKey]
      return client.execute({
        operation,
        grant: "replayable",
        // The key rides in the query string, as the API wants; `Endpoint` keeps URLs with query
        // parameters out of the platform's spans.
        request: HttpClientRequest.get("/auth/access-token").pipe(
          HttpClientRequest.setUrlParam("key", Redacted.value(apiKey))
        ),
        secrets,
        responses: {
          200: Endpoint.decode(AccessTokenResponse, (body, response) =>
            Effect.succeed(TokenSet.fromExpiresAt({
              accessToken: body.access_token,
              tokenType: body.token_type,
              expiresAt: body.expires_at,
              clockOffset: response.clockOffset
            }))),
          400: (response) =>
            Effect.fail(new OccamError.InvalidApiKey({ operation, detail: httpExceptionDetail(response) })),
          422: validationError(operation)
        }
      })
    }

    return OccamAuth.of({ baseUrl, login, refresh, tokenFromKey })
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
 * `OCCAM_BASE_URL`, defaulting to `https://api.occam.ai`.
 *
 * @since 0.1.0
 * @category config
 */
export const baseUrlConfig: Config.Config<string> = Config.string("OCCAM_BASE_URL").pipe(
  Config.withDefault(defaultBaseUrl)
)

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
