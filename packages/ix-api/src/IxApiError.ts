/**
 * The documented errors of IX-API's `/auth/token` and `/auth/refresh`: RFC 7807 problem bodies,
 * a 400 `ValidationError` and a 401 `AuthenticationError`, each carrying the decoded problem.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * The prefix of the problem `type` URIs the IX-API v2 specification documents.
 *
 * @since 0.1.0
 * @category constants
 */
export const problemTypePrefix = "https://errors.ix-api.net/v2/"

/**
 * One field the server rejected, from the `properties` list real IX-API implementations add to a
 * validation problem. A `reason` that is not a string (some servers nest a list of messages) is
 * kept as its JSON text.
 *
 * @since 0.1.0
 * @category models
 */
export class InvalidProperty extends Schema.Class<InvalidProperty>("@effect-auth/ix-api/InvalidProperty")({
  name: Schema.String,
  reason: Schema.String
}) {}

/**
 * The RFC 7807 fields every IX-API problem body carries. `type` is the only required field; the
 * HTTP status is the one the response had (the body's own `status` is not trusted: the official
 * Go client overwrites it too, because implementations get it wrong).
 *
 * @since 0.1.0
 * @category models
 */
export const ProblemFields = {
  /** The operation that failed, such as `"ix-api.createToken"`. */
  operation: Schema.String,
  /** The HTTP status of the response. */
  status: Schema.Number,
  /** The problem `type` URI exactly as the server sent it. */
  type: Schema.String,
  title: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String),
  instance: Schema.optional(Schema.String)
}

/**
 * 400: the request body did not validate (a missing or malformed `api_key`, `api_secret` or
 * `refresh_token`). `properties` lists the offending fields when the server names them.
 *
 * @since 0.1.0
 * @category errors
 */
export class ValidationError extends Schema.TaggedError<ValidationError>("@effect-auth/ix-api/ValidationError")(
  "ValidationError",
  {
    ...ProblemFields,
    properties: Schema.Array(InvalidProperty)
  }
) {
  override get message(): string {
    const fields = this.properties.map((property) => `${property.name}: ${property.reason}`).join("; ")
    return `${this.operation}: ${describe(this, "the request did not validate")}${fields === "" ? "" : ` (${fields})`}`
  }
}

/**
 * How a 401 problem `type` reads:
 *
 * - `authentication-error`: the credentials or the token are invalid (wrong key or secret, a
 *   token that was tampered with, revoked or already used);
 * - `signature-expired`: the token presented has expired (for `/auth/refresh`: the refresh token,
 *   so a new token must be created from the key and secret);
 * - `not-authenticated`: no credentials were presented.
 *
 * A `type` the specification does not list reads as `authentication-error`, the generic one; the
 * raw URI stays in `type`.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthenticationReason = "authentication-error" | "signature-expired" | "not-authenticated"

/**
 * The reasons in the order the specification lists them.
 *
 * @since 0.1.0
 * @category models
 */
export const AuthenticationReason = Schema.Literal("authentication-error", "signature-expired", "not-authenticated")

/**
 * 401: the server did not accept the credentials or the refresh token. `reason` classifies the
 * problem `type` (see `AuthenticationReason`).
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthenticationError
  extends Schema.TaggedError<AuthenticationError>("@effect-auth/ix-api/AuthenticationError")(
    "AuthenticationError",
    {
      ...ProblemFields,
      reason: AuthenticationReason
    }
  )
{
  override get message(): string {
    return `${this.operation}: ${this.reason}: ${describe(this, "authentication failed")}`
  }
}

/**
 * The errors the IX-API auth endpoints document.
 *
 * @since 0.1.0
 * @category errors
 */
export type IxApiError = ValidationError | AuthenticationError

/**
 * Classifies a problem `type` URI. Matching is on the last path segment without `.html`, so a
 * server that answers with another host, scheme or version prefix is still understood.
 *
 * @since 0.1.0
 * @category parsing
 */
export const authenticationReason = (type: string): AuthenticationReason => {
  const path = type.split(/[?#]/)[0].replace(/\/+$/, "")
  const name = path.slice(path.lastIndexOf("/") + 1).replace(/\.html?$/i, "").toLowerCase()
  switch (name) {
    case "signature-expired":
      return "signature-expired"
    case "not-authenticated":
      return "not-authenticated"
    default:
      return "authentication-error"
  }
}

/**
 * A `properties` entry as servers send it: anything, of which only objects with a string `name`
 * are kept.
 *
 * @since 0.1.0
 * @category parsing
 */
export const invalidProperties = (input: unknown): ReadonlyArray<InvalidProperty> => {
  if (!Array.isArray(input)) return []
  const properties: Array<InvalidProperty> = []
  for (const entry of input) {
    if (!Predicate.isRecord(entry) || !Predicate.isString(entry.name)) continue
    const reason = entry.reason
    properties.push(
      new InvalidProperty({
        name: entry.name,
        reason: Predicate.isString(reason) ? reason : reason === undefined ? "" : JSON.stringify(reason)
      })
    )
  }
  return properties
}

const describe = (
  problem: { readonly title?: string | undefined; readonly detail?: string | undefined },
  fallback: string
) =>
  problem.title === undefined
    ? problem.detail ?? fallback
    : problem.detail === undefined || problem.detail === problem.title
    ? problem.title
    : `${problem.title}: ${problem.detail}`
