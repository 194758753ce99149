/**
 * The errors of Occam AI's documented statuses, one class per status of each endpoint.
 *
 * Occam is a FastAPI server. Its 400 and 404 bodies are untyped in the OpenAPI document (FastAPI's
 * `HTTPException` sends `{"detail": "<message>"}`), so those errors take the status as the
 * authority and carry `detail` only when the body has that shape: a 400 from a proxy with an HTML
 * body is still `InvalidCredentials`, with no `detail`. A 422 is typed (`HTTPValidationError`) and
 * its `detail` list is decoded strictly: a 422 that does not have it is a `MalformedResponse`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * One entry of FastAPI's validation error list: where the request is wrong (such as
 * `["body", "username"]`), a message and the pydantic error type (such as `value_error.missing`).
 * Pydantic 2 also echoes the offending `input`; it is dropped on decoding, since it may be a
 * password.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ValidationIssue = Schema.Struct({
  loc: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  msg: Schema.String,
  type: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export type ValidationIssue = typeof ValidationIssue.Type

/**
 * The body of a 422 (`HTTPValidationError`); the spec makes `detail` optional.
 *
 * @since 0.1.0
 * @category schemas
 */
export const HttpValidationError = Schema.Struct({
  detail: Schema.optionalWith(Schema.Array(ValidationIssue), { exact: true })
})

const detailFields = { operation: Schema.String, detail: Schema.optional(Schema.String) }

type DetailedClass<Self, Tag extends string> = Schema.TaggedErrorClass<
  Self,
  Tag,
  { readonly _tag: Schema.tag<Tag> } & typeof detailFields
>

/**
 * The class of an error of an untyped 400 or 404: the operation, and FastAPI's `detail` when the
 * body had one; without it, the message is `fallback`. One factory serves the four of them.
 */
const Detailed = <Self>() => <const Tag extends string>(tag: Tag, fallback: string): DetailedClass<Self, Tag> =>
  // `Self` is a type parameter here, which `TaggedError` cannot tell from a missing one.
  class extends (Schema.TaggedError<Self>(`@effect-auth/occam/${tag}`)(tag, detailFields) as DetailedClass<Self, Tag>) {
    override get message(): string {
      return `${this.operation}: ${this.detail ?? fallback}`
    }
  }

/**
 * 400 from `login`: the username or password is wrong ("Invalid email or password").
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidCredentials
  extends Detailed<InvalidCredentials>()("InvalidCredentials", "invalid email or password")
{}

/**
 * 400 from `refresh`: the refresh token expired or was already used. Occam rotates refresh
 * tokens, so a used one is dead: log in again.
 *
 * @since 0.1.0
 * @category errors
 */
export class RefreshTokenExpired
  extends Detailed<RefreshTokenExpired>()("RefreshTokenExpired", "refresh token expired or is already used")
{}

/**
 * 404 from `refresh`: the server does not know the refresh token.
 *
 * @since 0.1.0
 * @category errors
 */
export class RefreshTokenNotFound
  extends Detailed<RefreshTokenNotFound>()("RefreshTokenNotFound", "refresh token does not exist")
{}

/**
 * 400 from `tokenFromKey`: the API key is not valid (unknown or revoked).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidApiKey extends Detailed<InvalidApiKey>()("InvalidApiKey", "invalid API key") {}

/**
 * 422 from any operation: FastAPI rejected the request's shape (a missing or ill-typed field).
 * This is a bug in the request, never a passing fault.
 *
 * @since 0.1.0
 * @category errors
 */
export class ValidationError extends Schema.TaggedError<ValidationError>("@effect-auth/occam/ValidationError")(
  "ValidationError",
  {
    operation: Schema.String,
    detail: Schema.Array(ValidationIssue)
  }
) {
  override get message(): string {
    return `${this.operation}: validation failed${
      this.detail.map((issue, i) => `${i ? ";" : ":"} ${issue.loc.join(".")}: ${issue.msg} (${issue.type})`).join("")
    }`
  }
}

/**
 * Every error of Occam's documented statuses.
 *
 * @since 0.1.0
 * @category errors
 */
export type OccamError =
  | InvalidCredentials
  | RefreshTokenExpired
  | RefreshTokenNotFound
  | InvalidApiKey
  | ValidationError

/**
 * Whether a value is one of Occam's documented errors.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isOccamError = (u: unknown): u is OccamError =>
  u instanceof ValidationError || isRefreshRejected(u) || u instanceof InvalidCredentials || u instanceof InvalidApiKey

/**
 * The refresh failures that mean the refresh token is dead (see `isRefreshRejected`).
 *
 * @since 0.1.0
 * @category models
 */
export type RefreshRejected = RefreshTokenExpired | RefreshTokenNotFound

/**
 * Whether a refresh failure means the refresh token is dead (expired, used, or unknown), so the
 * only way on is a new login.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isRefreshRejected = (u: unknown): u is RefreshRejected =>
  u instanceof RefreshTokenExpired || u instanceof RefreshTokenNotFound
