/**
 * The errors of EnduroSat's documented statuses. Both carry what the server said (the untyped 400
 * body, the 401 `error` text) and never a secret of the request: a 400 body that echoes the
 * password or a token has it replaced by `<redacted>` before the error is built.
 *
 * @since 0.1.0
 */
import type * as AuthError from "@effect-auth/core/AuthError"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * The grant types of `/oauth2/token`.
 *
 * @since 0.1.0
 * @category models
 */
export const GrantType = Schema.Literal("password", "refresh_token")

/**
 * @since 0.1.0
 * @category models
 */
export type GrantType = typeof GrantType.Type

/**
 * 400 from `/oauth2/token` or `/oauth2/revoke`: the server found the request malformed (a missing
 * or unknown app client id, a missing field, an unsupported grant type). The document gives the
 * body no schema, so `body` is whatever JSON the server sent (secrets scrubbed), or `undefined`
 * when it sent none or something other than JSON: a 400 stays a `BadRequest` whatever its body,
 * because the status alone already says what went wrong.
 *
 * `error` is the body's RFC 6749 error code (section 5.2), when it has one: an OAuth server, or a
 * proxy in front of Cognito, answers a dead refresh token with 400 `invalid_grant` where Cognito
 * itself answers 401 (see `isRefreshRejected`).
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Schema.TaggedError<BadRequest>("@effect-auth/endurosat/BadRequest")("BadRequest", {
  operation: Schema.String,
  body: Schema.Unknown,
  error: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const detail = describeBody(this.body)
    return `${this.operation}: bad request${detail === undefined ? "" : `: ${detail}`}`
  }
}

/**
 * 401 from `/oauth2/token`: Cognito refused the credentials: a wrong username or password
 * (`"Incorrect username or password."`), or a refresh token that has expired, was revoked or is
 * unknown (`"Refresh Token has expired"`, `"Invalid Refresh Token"`). `grantType` says which grant
 * was refused; `error` is the server's text, when it sent one.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>(
  "@effect-auth/endurosat/InvalidCredentials"
)("InvalidCredentials", {
  operation: Schema.String,
  grantType: GrantType,
  error: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const subject = this.grantType === "password" ? "username or password" : "refresh token"
    return `${this.operation}: the ${subject} was refused${this.error === undefined ? "" : `: ${this.error}`}`
  }
}

/**
 * What `authenticate` can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type AuthenticateError = BadRequest | InvalidCredentials | AuthError.AuthError

/**
 * What `revoke` can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type RevokeError = BadRequest | AuthError.AuthError

/**
 * Every error of this package.
 *
 * @since 0.1.0
 * @category errors
 */
export type EnduroSatError = BadRequest | InvalidCredentials

/**
 * Whether an `authenticate` failure of a refresh grant means the refresh token is dead, so only a
 * new login helps: Cognito's 401 (`InvalidCredentials`: expired, revoked or unknown), or an
 * RFC 6749 server's 400 `invalid_grant` (section 5.2: "the provided authorization grant ... or
 * refresh token is invalid, expired, revoked"). Anything else (another 400, a 503, a reset) is
 * not a verdict on the token.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isRefreshRejected = (u: unknown): u is InvalidCredentials | BadRequest =>
  (u instanceof InvalidCredentials && u.grantType === "refresh_token") ||
  (u instanceof BadRequest && u.error === "invalid_grant")

/** The longest server text a message quotes. */
const messageLength = 200

/** The server's own words from an untyped body: its `message`, `error` or `error_description`. */
const describeBody = (body: unknown): string | undefined => {
  if (!Predicate.isRecord(body)) return undefined
  for (const key of ["message", "error_description", "error"]) {
    const value = body[key]
    if (Predicate.isString(value) && value.length > 0) {
      return value.length > messageLength ? `${value.slice(0, messageLength)}...` : value
    }
  }
  return undefined
}
