/**
 * EnduroSat's ground-station authentication API, a thin proxy over AWS Cognito: a public app
 * client (an id, no secret) logs a user in with a password grant, renews the access token with a
 * refresh grant that does not rotate the refresh token, and revokes a refresh token.
 *
 * @since 0.1.0
 */
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as TokenSet from "@effect-auth/core/TokenSet"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as EnduroSatError from "./EnduroSatError.js"

/**
 * The real API's base URL.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://api.ground-station.endurosat.com"

/**
 * What `authenticate` presents: a username and password, or a refresh token from an earlier
 * password grant.
 *
 * @since 0.1.0
 * @category models
 */
export type Grant =
  | {
    readonly grantType: "password"
    readonly username: string
    readonly password: Redacted.Redacted<string>
  }
  | {
    readonly grantType: "refresh_token"
    readonly refreshToken: Redacted.Redacted<string>
  }

/**
 * The service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The app client id every request carries. */
  readonly clientId: string
  /** The base URL requests go to. */
  readonly baseUrl: string
  /**
   * `POST /oauth2/token`. A password grant yields access, id and refresh tokens; a refresh grant
   * yields access and id tokens only, since Cognito does not rotate refresh tokens: keep the one
   * you have (`TokenSet.merge` does) until it expires.
   */
  readonly authenticate: (grant: Grant) => Effect.Effect<TokenSet.TokenSet, EnduroSatError.AuthenticateError>
  /** `authenticate` with a password grant. */
  readonly login: (credentials: {
    readonly username: string
    readonly password: Redacted.Redacted<string>
  }) => Effect.Effect<TokenSet.TokenSet, EnduroSatError.AuthenticateError>
  /** `authenticate` with a refresh grant. */
  readonly refresh: (
    refreshToken: Redacted.Redacted<string>
  ) => Effect.Effect<TokenSet.TokenSet, EnduroSatError.AuthenticateError>
  /**
   * `POST /oauth2/revoke`: revokes a refresh token and every access token issued from it. The
   * server answers 204 for a token it does not know, so revoking twice is harmless.
   */
  readonly revoke: (token: Redacted.Redacted<string>) => Effect.Effect<void, EnduroSatError.RevokeError>
}

/**
 * The EnduroSat authentication service.
 *
 * @since 0.1.0
 * @category tags
 */
export class EnduroSatAuth extends Context.Tag("@effect-auth/endurosat/EnduroSatAuth")<EnduroSatAuth, Service>() {}

/**
 * Options of `make` and `layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The Cognito app client id. It is public (the app client has no secret). */
  readonly clientId: string
  /** Default: `defaultBaseUrl`. */
  readonly baseUrl?: string | undefined
}

/** `AuthenticationResponse`: every field is optional in the document; null is read as absent. */
const AuthenticationResponse = Schema.Struct({
  // A 200 without an access token is useless to a client, whatever the document allows.
  access_token: Schema.NonEmptyString,
  expires_in: Schema.optional(Schema.NullOr(
    Schema.Union(Schema.Number, Schema.NumberFromString).pipe(Schema.finite(), Schema.nonNegative())
  )),
  token_type: Schema.optional(Schema.NullOr(Schema.String)),
  refresh_token: Schema.optional(Schema.NullOr(Schema.String)),
  id_token: Schema.optional(Schema.NullOr(Schema.String))
  // `new_device_metadata` only appears with Cognito device tracking, which this client does not do.
})

/** `ErrorResponse`, the 401 body. */
const ErrorResponse = Schema.Struct({
  error: Schema.optional(Schema.NullOr(Schema.String))
})

const presentString = (value: string | null | undefined): string | undefined =>
  value === null || value === undefined || value === "" ? undefined : value

const presentSecret = (value: string | null | undefined): Redacted.Redacted<string> | undefined => {
  const present = presentString(value)
  return present === undefined ? undefined : Redacted.make(present)
}

/**
 * The 400 handler. The body is untyped, so any JSON is kept and anything else is dropped; an
 * RFC 6749 body's `error` code (`invalid_grant`, `invalid_request`, ...) is read out of it. The
 * pipeline has already scrubbed the request's secrets from it.
 */
const badRequest = (response: Endpoint.Response) => {
  let body: unknown = undefined
  if (!response.oversized && response.body.trim() !== "") {
    try {
      body = JSON.parse(response.body)
    } catch {
      body = undefined
    }
  }
  const error = Predicate.isRecord(body) && Predicate.isString(body.error) && body.error !== "" ? body.error : undefined
  return Effect.fail(new EnduroSatError.BadRequest({ operation: response.operation, body, error }))
}

/**
 * A service for the `HttpClient` in context. The `Endpoint.EndpointSettings` in context when it
 * is made (timeout, size cap, retry policy) apply to every call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = options.baseUrl ?? defaultBaseUrl
    const client = yield* Endpoint.makeClient({ baseUrl, provider: "endurosat" })
    const clientId = options.clientId

    const authenticate = (grant: Grant): Effect.Effect<TokenSet.TokenSet, EnduroSatError.AuthenticateError> => {
      const fields = grant.grantType === "password"
        ? { username: grant.username, password: Redacted.value(grant.password) }
        : { refresh_token: Redacted.value(grant.refreshToken) }
      return client.execute({
        operation: "endurosat.authenticate",
        // Both grants may be re-sent after a lost response. A password obviously; a refresh token
        // too, because Cognito's refresh grant does not rotate it: the token presented stays
        // valid after the server answered, so a replay earns a new access token, never a spent
        // grant.
        grant: "replayable",
        request: HttpClientRequest.post("/oauth2/token").pipe(
          HttpClientRequest.bodyUrlParams({ client_id: clientId, grant_type: grant.grantType, ...fields })
        ),
        secrets: grant.grantType === "password" ? [grant.password] : [grant.refreshToken],
        responses: {
          200: Endpoint.decode(AuthenticationResponse, (body) =>
            TokenSet.fromExpiresIn({
              accessToken: Redacted.make(body.access_token),
              tokenType: presentString(body.token_type),
              expiresIn: body.expires_in ?? undefined,
              refreshToken: presentSecret(body.refresh_token),
              idToken: presentSecret(body.id_token)
            })),
          400: badRequest,
          401: Endpoint.fail(ErrorResponse, (body, response) =>
            new EnduroSatError.InvalidCredentials({
              operation: response.operation,
              grantType: grant.grantType,
              error: presentString(body.error)
            }))
        }
      })
    }

    const revoke = (token: Redacted.Redacted<string>): Effect.Effect<void, EnduroSatError.RevokeError> =>
      client.execute({
        operation: "endurosat.revoke",
        // Revocation is idempotent (204 for a token already revoked): re-sending it is harmless.
        grant: "replayable",
        request: HttpClientRequest.post("/oauth2/revoke").pipe(
          HttpClientRequest.bodyUrlParams({ client_id: clientId, token: Redacted.value(token) })
        ),
        secrets: [token],
        responses: {
          204: () => Effect.void,
          // Cognito's own RevokeToken answers 200 with an empty body; a proxy passing it through
          // has still revoked the token.
          200: () => Effect.void,
          400: badRequest
        }
      })

    return EnduroSatAuth.of({
      clientId,
      baseUrl,
      authenticate,
      login: ({ password, username }) => authenticate({ grantType: "password", username, password }),
      refresh: (refreshToken) => authenticate({ grantType: "refresh_token", refreshToken }),
      revoke
    })
  })

/**
 * The service as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<EnduroSatAuth, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(EnduroSatAuth, make(options))

/**
 * The service as a layer configured from `Config`: by default `ENDUROSAT_CLIENT_ID` (required)
 * and `ENDUROSAT_BASE_URL` (default `defaultBaseUrl`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (options: {
  readonly clientId?: Config.Config<string> | undefined
  readonly baseUrl?: Config.Config<string> | undefined
} = {}): Layer.Layer<EnduroSatAuth, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    EnduroSatAuth,
    Effect.flatMap(
      Config.all({
        clientId: options.clientId ?? Config.nonEmptyString("ENDUROSAT_CLIENT_ID"),
        baseUrl: options.baseUrl ?? Config.nonEmptyString("ENDUROSAT_BASE_URL").pipe(Config.withDefault(defaultBaseUrl))
      }),
      make
    )
  )
