/**
 * Cal.com API v2's platform OAuth flow as a service: `authorize` a logged-in user for an OAuth
 * client, `exchange` the code for a managed user's tokens, and `refresh` them.
 *
 * What the real server does, which its API document does not say: `authorize` answers with a 302
 * redirect whose `Location` carries the code; token responses are wrapped in a `{ status, data }`
 * envelope with the access token's expiry in epoch milliseconds; errors are wrapped in
 * `{ status: "error", timestamp, path, error }`; and refresh tokens rotate (the presented one is
 * deleted). Codes and refresh tokens are therefore single-use: no operation here is ever re-sent
 * once it may have reached the server.
 *
 * @since 0.1.0
 */
import * as AuthError from "@effect-auth/core/AuthError"
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as TokenSet from "@effect-auth/core/TokenSet"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as CalError from "./CalError.js"

/**
 * Cal.com's production API host. The endpoint paths already start with `/v2`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://api.cal.com"

/**
 * The header `refresh` sends the OAuth client secret in. It is one of
 * `Scrubber.redactedHeaderNames`, so no span records it.
 *
 * @since 0.1.0
 * @category constants
 */
export const secretKeyHeader = "x-cal-secret-key"

/**
 * What `authorize` yields: the authorization code from the redirect, to be exchanged once.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthorizationCode {
  readonly code: Redacted.Redacted<string>
}

/**
 * The service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The OAuth client id every call is made for. */
  readonly clientId: string
  /** The base URL every call is made against (no trailing slash). */
  readonly baseUrl: string
  /**
   * Authorizes the OAuth client for the Cal.com user logged in with `sessionCookie` (the whole
   * `Cookie` header of that user's session, such as `next-auth.session-token=...`). The server
   * answers with a 302 to `<redirectUri>?code=<code>`; the redirect is not followed.
   */
  readonly authorize: (
    input: { readonly redirectUri: string },
    sessionCookie: Redacted.Redacted<string>
  ) => Effect.Effect<AuthorizationCode, CalError.AuthorizationRejected | AuthError.AuthError>
  /**
   * Exchanges an authorization code for the managed user's tokens. The code goes in
   * `Authorization: Bearer`; the client secret defaults to the configured one.
   */
  readonly exchange: (input: {
    readonly code: Redacted.Redacted<string>
    readonly clientSecret?: Redacted.Redacted<string> | undefined
  }) => Effect.Effect<TokenSet.TokenSet, CalError.ExchangeRejected | AuthError.AuthError>
  /**
   * Exchanges a refresh token for a new token pair. The presented refresh token is deleted by
   * the server: store the new one before using the new access token.
   */
  readonly refresh: (input: {
    readonly refreshToken: Redacted.Redacted<string>
  }) => Effect.Effect<
    TokenSet.TokenSet,
    CalError.InvalidRefreshToken | CalError.InvalidClientSecret | AuthError.AuthError
  >
}

/**
 * The Cal.com OAuth service for one OAuth client.
 *
 * @since 0.1.0
 * @category tags
 */
export class CalOAuth extends Context.Tag("@effect-auth/cal/CalOAuth")<CalOAuth, Service>() {}

/**
 * The options of `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The OAuth client id (path parameter of every call). */
  readonly clientId: string
  /** The OAuth client secret: `exchange`'s body and `refresh`'s `x-cal-secret-key`. */
  readonly clientSecret: Redacted.Redacted<string>
  /** Default: `https://api.cal.com`. */
  readonly baseUrl?: string | undefined
}

/**
 * Cal.com's token envelope. The tokens are redacted as they are decoded.
 *
 * @since 0.1.0
 * @category schemas
 */
export const KeysResponse = Schema.Struct({
  status: Schema.Literal("success"),
  data: Schema.Struct({
    accessToken: Schema.Redacted(Schema.String),
    refreshToken: Schema.Redacted(Schema.String),
    /** Epoch milliseconds. */
    accessTokenExpiresAt: Schema.Number,
    /** Epoch milliseconds; absent from servers older than 2025. */
    refreshTokenExpiresAt: Schema.optional(Schema.Number)
  })
})

/**
 * Cal.com's expiry is always epoch milliseconds (so the unit is given: the seconds-or-milliseconds
 * guess would read the small values of a `TestClock` run as seconds), on the server's clock.
 */
const tokens = Endpoint.decode(KeysResponse, (body, response) =>
  Effect.succeed(TokenSet.fromExpiresAt({
    accessToken: body.data.accessToken,
    refreshToken: body.data.refreshToken,
    expiresAt: body.data.accessTokenExpiresAt,
    refreshExpiresAt: body.data.refreshTokenExpiresAt,
    unit: "milliseconds",
    clockOffset: response.clockOffset
  })))

const codePattern = /[?&]code=([^&#]*)/

/** The code in a redirect's `Location`; a missing or empty code is a malformed response. */
const codeFromLocation = (
  response: Endpoint.Response
): Effect.Effect<AuthorizationCode, AuthError.MalformedResponse> => {
  const malformed = (description: string) =>
    Effect.fail(
      new AuthError.MalformedResponse({ operation: response.operation, status: response.status, description })
    )
  const location = response.headers["location"]
  if (location === undefined) return malformed("the Location header is missing")
  const match = codePattern.exec(location)
  if (match === null || match[1] === "") return malformed("the Location header carries no code")
  try {
    return Effect.succeed({ code: Redacted.make(decodeURIComponent(match[1].replace(/\+/g, " "))) })
  } catch {
    return malformed("the code in the Location header is not valid URL encoding")
  }
}

/**
 * Makes the service over the `HttpClient` in context (and the `Endpoint.EndpointSettings` in
 * context, if any).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = (options.baseUrl ?? defaultBaseUrl).replace(/\/+$/, "")
    const client = yield* Endpoint.makeClient({ baseUrl, provider: "cal" })
    const path = (operation: string) => `/v2/oauth/${encodeURIComponent(options.clientId)}/${operation}`

    const authorize: Service["authorize"] = (input, sessionCookie) => {
      const secrets = [sessionCookie]
      return client.execute({
        operation: "cal.authorize",
        // The server keeps one code per user and client: a second request after a lost response
        // is refused as "already authorized", so it is never re-sent.
        grant: "single-use",
        request: HttpClientRequest.post(path("authorize")).pipe(
          HttpClientRequest.setHeader("cookie", Redacted.value(sessionCookie)),
          HttpClientRequest.bodyUnsafeJson({ redirectUri: input.redirectUri })
        ),
        responses: {
          302: codeFromLocation,
          200: codeFromLocation,
          400: Endpoint.fail(
            CalError.ErrorBody,
            (body, response) => new CalError.AuthorizationRejected(CalError.fromBody(response.status, body))
          ),
          401: Endpoint.fail(
            CalError.ErrorBody,
            (body, response) => new CalError.AuthorizationRejected(CalError.fromBody(response.status, body))
          )
        },
        secrets
      })
    }

    const exchange: Service["exchange"] = (input) => {
      const clientSecret = input.clientSecret ?? options.clientSecret
      const secrets = [input.code, clientSecret]
      return client.execute({
        operation: "cal.exchange",
        grant: "single-use",
        request: HttpClientRequest.post(path("exchange")).pipe(
          HttpClientRequest.bearerToken(input.code),
          HttpClientRequest.bodyUnsafeJson({ clientSecret: Redacted.value(clientSecret) })
        ),
        responses: {
          200: tokens,
          400: Endpoint.fail(
            CalError.ErrorBody,
            (body, response) => new CalError.ExchangeRejected(CalError.fromBody(response.status, body))
          )
        },
        secrets
      })
    }

    const refresh: Service["refresh"] = (input) => {
      const secrets = [input.refreshToken, options.clientSecret]
      return client.execute({
        operation: "cal.refresh",
        // Rotation: the server deletes the presented refresh token as it issues the new pair.
        grant: "single-use",
        request: HttpClientRequest.post(path("refresh")).pipe(
          HttpClientRequest.setHeader(secretKeyHeader, Redacted.value(options.clientSecret)),
          HttpClientRequest.bodyUnsafeJson({ refreshToken: Redacted.value(input.refreshToken) })
        ),
        responses: {
          200: tokens,
          400: Endpoint.fail(
            CalError.ErrorBody,
            (body, response) => new CalError.InvalidRefreshToken(CalError.fromBody(response.status, body))
          ),
          401: Endpoint.fail(
            CalError.ErrorBody,
            (body, response) => new CalError.InvalidClientSecret(CalError.fromBody(response.status, body))
          )
        },
        secrets
      })
    }

    return CalOAuth.of({ clientId: options.clientId, baseUrl, authorize, exchange, refresh })
  })

/**
 * The service as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<CalOAuth, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(CalOAuth, make(options))

/**
 * The service configured from `CAL_CLIENT_ID`, `CAL_CLIENT_SECRET` (redacted) and `CAL_BASE_URL`
 * (default `https://api.cal.com`), or from the configs given.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: {
    readonly clientId?: Config.Config<string> | undefined
    readonly clientSecret?: Config.Config<Redacted.Redacted<string>> | undefined
    readonly baseUrl?: Config.Config<string> | undefined
  } = {}
): Layer.Layer<CalOAuth, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    CalOAuth,
    Effect.flatMap(
      Config.all({
        clientId: options.clientId ?? Config.string("CAL_CLIENT_ID"),
        clientSecret: options.clientSecret ?? Config.redacted("CAL_CLIENT_SECRET"),
        baseUrl: options.baseUrl ?? Config.withDefault(Config.string("CAL_BASE_URL"), defaultBaseUrl)
      }),
      make
    )
  )
