/**
 * The errors of Cal.com's OAuth flow: one per documented status of each operation, each carrying
 * the decoded Cal.com error envelope (`{ status: "error", timestamp, path, error: { code,
 * message, details } }`).
 *
 * Cal.com's `details` is NestJS's raw exception response; for a body-validation failure it holds
 * class-validator objects whose `target` and `value` echo the request body, refresh token and
 * client secret included. The `Endpoint` pipeline scrubs every secret the request carried from
 * every string of these errors (`code`, `message`, `details`, `path`, `timestamp` alike).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Cal.com's error envelope, as every failing endpoint of the API sends it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ErrorBody = Schema.Struct({
  status: Schema.Literal("error"),
  timestamp: Schema.String,
  path: Schema.String,
  error: Schema.Struct({
    code: Schema.String,
    message: Schema.String,
    details: Schema.optional(Schema.Unknown)
  })
})

/**
 * The decoded error envelope.
 *
 * @since 0.1.0
 * @category schemas
 */
export type ErrorBody = typeof ErrorBody.Type

/**
 * The fields every Cal.com error carries: the HTTP `status`, and the envelope's `code` (the NestJS
 * exception class, such as `BadRequestException`), `message`, `details`, `path` and `timestamp`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const fields = {
  status: Schema.Number,
  code: Schema.String,
  message: Schema.String,
  details: Schema.optional(Schema.Unknown),
  path: Schema.String,
  timestamp: Schema.String
}

/**
 * `authorize` was refused: 400 when the OAuth client does not exist, the redirect URI is not one of
 * the client's, or the user already holds an unexchanged code for this client ("has already
 * authorized"); 401 when the session cookie does not belong to a logged-in Cal.com user.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthorizationRejected extends Schema.TaggedError<AuthorizationRejected>(
  "@effect-auth/cal/AuthorizationRejected"
)("AuthorizationRejected", fields) {}

/**
 * `exchange` was refused (400): the code is missing, unknown or already exchanged, or the client id
 * and secret do not match ("Invalid OAuth Client.").
 *
 * @since 0.1.0
 * @category errors
 */
export class ExchangeRejected extends Schema.TaggedError<ExchangeRejected>("@effect-auth/cal/ExchangeRejected")(
  "ExchangeRejected",
  fields
) {}

/**
 * `refresh` was refused (400): the refresh token is unknown, which with Cal.com's rotation also
 * means it was already used once ("Invalid refresh token"). The session must re-read its store or
 * authorize again.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRefreshToken extends Schema.TaggedError<InvalidRefreshToken>(
  "@effect-auth/cal/InvalidRefreshToken"
)("InvalidRefreshToken", fields) {}

/**
 * `refresh` was refused by the client guard (401): the `x-cal-secret-key` is wrong or missing, or
 * the OAuth client does not exist. A configuration error: retrying cannot help.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidClientSecret extends Schema.TaggedError<InvalidClientSecret>(
  "@effect-auth/cal/InvalidClientSecret"
)("InvalidClientSecret", fields) {}

/**
 * Any of the Cal.com-specific errors.
 *
 * @since 0.1.0
 * @category errors
 */
export type CalError = AuthorizationRejected | ExchangeRejected | InvalidRefreshToken | InvalidClientSecret

/**
 * The fields of a Cal.com error, as `fromBody` builds them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fields {
  readonly status: number
  readonly code: string
  readonly message: string
  readonly details?: unknown
  readonly path: string
  readonly timestamp: string
}

/**
 * The fields of an error built from a decoded envelope. Built inside an `Endpoint` handler, the
 * error leaves the pipeline with every secret of the request scrubbed from every field.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromBody = (status: number, body: ErrorBody): Fields => ({
  status,
  code: body.error.code,
  message: body.error.message,
  ...(body.error.details === undefined ? {} : { details: body.error.details }),
  path: body.path,
  timestamp: body.timestamp
})
