/**
 * The IX-API v2 auth endpoints as a service: create a token pair from an API key and secret, and
 * exchange a refresh token for a new pair. Every IX-API is hosted by its internet exchange, so
 * there is no default host: the base URL (`https://<ixp-host>/api/v2`) is required.
 *
 * Neither response says when its tokens expire: both tokens are JWTs and their `exp` claims are
 * the expiry (decoded, not verified). A token that is not a JWT, or has no `exp`, is accepted
 * with no expiry: a session then renews it only when the server answers 401.
 *
 * @since 0.1.0
 */
import type * as AuthError from "@effect-auth/core/AuthError"
import * as Endpoint from "@effect-auth/core/Endpoint"
import * as TokenSet from "@effect-auth/core/TokenSet"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as IxApiError from "./IxApiError.js"

/**
 * The provider name carried by spans, errors and sessions.
 *
 * @since 0.1.0
 * @category constants
 */
export const provider = "ix-api"

/**
 * An API user's credentials, as the IXP issued them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  readonly apiKey: Redacted.Redacted<string>
  readonly apiSecret: Redacted.Redacted<string>
}

/**
 * Everything `createToken` and `refreshToken` can fail with: the documented 400 and 401, and the
 * errors every provider shares.
 *
 * @since 0.1.0
 * @category errors
 */
export type Failure = IxApiError.IxApiError | AuthError.AuthError

/**
 * The service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The base URL every path is relative to, without a trailing slash. */
  readonly baseUrl: string
  /**
   * `POST {baseUrl}/auth/token` with `{ api_key, api_secret }`. Replayable: a lost response or a
   * server error is retried, since creating another token spends nothing.
   */
  readonly createToken: (credentials: Credentials) => Effect.Effect<TokenSet.TokenSet, Failure>
  /**
   * `POST {baseUrl}/auth/refresh` with `{ refresh_token }`. The server issues a new pair, so the
   * refresh token is treated as rotating and single-use: once the request may have reached the
   * server it is never sent again.
   */
  readonly refreshToken: (refreshToken: Redacted.Redacted<string>) => Effect.Effect<TokenSet.TokenSet, Failure>
}

/**
 * The service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class IxApiAuth extends Context.Tag("@effect-auth/ix-api/IxApiAuth")<IxApiAuth, Service>() {}

/**
 * The options of `make` and `layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The IXP's API root, such as `https://ixp.example.net/api/v2`. */
  readonly baseUrl: string
}

/**
 * The service over the `HttpClient` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = options.baseUrl.replace(/\/+$/, "")
    const client = yield* Endpoint.makeClient({ baseUrl, provider })

    // The pipeline scrubs the request's secrets from every error these build, so the problem
    // fields are taken as the server wrote them.
    const tokenResponses = (operation: string) => {
      const success = Endpoint.decode(
        AuthTokenBody,
        (body, response) =>
          Effect.map(Clock.currentTimeMillis, (receivedAt) =>
            TokenSet.fromJwt(
              { accessToken: body.access_token, refreshToken: body.refresh_token },
              { clockOffset: response.clockOffset, receivedAt }
            ))
      )
      return {
        200: success,
        201: success,
        400: Endpoint.fail(ProblemBody, (problem, response) =>
          new IxApiError.ValidationError({
            ...problemFields(operation, response.status, problem),
            properties: IxApiError.invalidProperties(problem.properties)
          })),
        401: Endpoint.fail(ProblemBody, (problem, response) =>
          new IxApiError.AuthenticationError({
            ...problemFields(operation, response.status, problem),
            reason: IxApiError.authenticationReason(problem.type)
          }))
      }
    }

    const createToken = (credentials: Credentials): Effect.Effect<TokenSet.TokenSet, Failure> => {
      const operation = "ix-api.createToken"
      const secrets = [credentials.apiKey, credentials.apiSecret]
      return client.execute({
        operation,
        grant: "replayable",
        request: HttpClientRequest.post("/auth/token").pipe(
          HttpClientRequest.bodyUnsafeJson({
            api_key: Redacted.value(credentials.apiKey),
            api_secret: Redacted.value(credentials.apiSecret)
          })
        ),
        responses: tokenResponses(operation),
        secrets
      })
    }

    const refreshToken = (refreshToken: Redacted.Redacted<string>): Effect.Effect<TokenSet.TokenSet, Failure> => {
      const operation = "ix-api.refreshToken"
      const secrets = [refreshToken]
      return client.execute({
        operation,
        grant: "single-use",
        request: HttpClientRequest.post("/auth/refresh").pipe(
          HttpClientRequest.bodyUnsafeJson({ refresh_token: Redacted.value(refreshToken) })
        ),
        responses: tokenResponses(operation),
        secrets
      })
    }

    return IxApiAuth.of({ baseUrl, createToken, refreshToken })
  })

/**
 * The service as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<IxApiAuth, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(IxApiAuth, make(options))

/**
 * The base URL from `IXAPI_BASE_URL`: required (IX-API has no default host) and an absolute
 * `http(s)` URL, else a `ConfigError` that says so.
 *
 * @since 0.1.0
 * @category config
 */
export const baseUrlConfig: Config.Config<string> = Config.string("IXAPI_BASE_URL").pipe(
  Config.orElse(() =>
    Config.fail(
      "IXAPI_BASE_URL is required: IX-API is hosted by each internet exchange, so there is no default; " +
        "set it to the IXP's API root, such as https://ixp.example.net/api/v2"
    )
  ),
  Config.validate({
    message: "IXAPI_BASE_URL must be an absolute http(s) URL, such as https://ixp.example.net/api/v2",
    validation: isHttpUrl
  })
)

/**
 * The service as a layer configured from `Config`: by default the base URL comes from
 * `IXAPI_BASE_URL` (see `baseUrlConfig`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: { readonly baseUrl?: Config.Config<string> | undefined } = {}
): Layer.Layer<IxApiAuth, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    IxApiAuth,
    Effect.flatMap(options.baseUrl ?? baseUrlConfig, (baseUrl) => make({ baseUrl }))
  )

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === "https:" || url.protocol === "http:"
  } catch {
    return false
  }
}

/** `AuthToken`: both tokens are required; a missing or empty one is a malformed response. */
const AuthTokenBody = Schema.Struct({
  access_token: Schema.Redacted(Schema.NonEmptyString),
  refresh_token: Schema.Redacted(Schema.NonEmptyString)
})

/**
 * `ProblemResponse` (RFC 7807). Only `type` is required; the other members are read when they
 * are strings and ignored otherwise, since implementations differ and the spec is loose.
 */
const ProblemBody = Schema.Struct({
  type: Schema.String,
  title: Schema.optional(Schema.Unknown),
  detail: Schema.optional(Schema.Unknown),
  instance: Schema.optional(Schema.Unknown),
  properties: Schema.optional(Schema.Unknown)
})

const optionalString = (value: unknown): string | undefined => Predicate.isString(value) ? value : undefined

const problemFields = (operation: string, status: number, problem: typeof ProblemBody.Type) => ({
  operation,
  status,
  type: problem.type,
  title: optionalString(problem.title),
  detail: optionalString(problem.detail),
  instance: optionalString(problem.instance)
})
