/**
 * The errors every provider operation can fail with besides its own documented statuses. None of
 * them carries a secret: they hold the operation name, numbers and text this library wrote or
 * scrubbed, never a request body or a raw transport error.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { TaggedError } from "./internal/error.js"

/**
 * The request could not complete: the connection was refused or reset, no response came within
 * the timeout, the request could not be built (an invalid header value), or the `HttpClient` was
 * closed (its layer was released while a service built on it was still in use). `attempts` says
 * how many times it was sent before giving up.
 *
 * `mayHaveReachedServer` is what decides whether a single-use grant is spent: `false` when no
 * attempt can have reached the server (`Connect`, `InvalidRequest`, `Closed`), `true` when one
 * may have (`Reset`, `Timeout`: the server may have processed it and the answer was lost).
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends TaggedError<TransportError>()(
  "TransportError",
  {
    operation: Schema.String,
    reason: Schema.Literal("Connect", "Reset", "Timeout", "InvalidRequest", "Closed"),
    attempts: Schema.Number,
    mayHaveReachedServer: Schema.Boolean,
    description: Schema.String
  }
) {
  override get message(): string {
    return `${this.operation}: ${this.reason} after ${this.attempts} attempt(s): ${this.description}`
  }
}

/**
 * The server answered with a status the provider does not document for this operation (including
 * a 429 or 503 that outlasted the retry policy, and any redirect). `body` is a short excerpt with
 * the request's secrets scrubbed; `retryAfter` is the server's `Retry-After`, when it sent one.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnexpectedStatus extends TaggedError<UnexpectedStatus>()(
  "UnexpectedStatus",
  {
    operation: Schema.String,
    status: Schema.Number,
    body: Schema.String,
    retryAfter: Schema.optional(Schema.String),
    location: Schema.optional(Schema.String)
  }
) {
  override get message(): string {
    return `${this.operation}: unexpected status ${this.status}${this.body && `: ${this.body}`}`
  }
}

/**
 * A documented status whose body is not what the provider documents: empty, not JSON, too large,
 * or missing a required field. `description` names the offending fields, never their values.
 *
 * @since 0.1.0
 * @category errors
 */
export class MalformedResponse extends TaggedError<MalformedResponse>()(
  "MalformedResponse",
  {
    operation: Schema.String,
    status: Schema.Number,
    description: Schema.String
  }
) {
  override get message(): string {
    return `${this.operation}: malformed ${this.status} response: ${this.description}`
  }
}

/**
 * The errors shared by every provider operation.
 *
 * @since 0.1.0
 * @category errors
 */
export type AuthError = TransportError | UnexpectedStatus | MalformedResponse

/**
 * Whether a failed request may have been processed by the server although no answer says so: a
 * transport failure after the request may have been sent, or a gateway's 502 or 504 (the
 * gateway may have passed it on before the upstream answer was lost). For a single-use grant
 * (a rotating refresh token) that means "maybe spent": it must not be presented again.
 *
 * A 500 is not among them: the server answered, and servers roll a failed request back; 429,
 * 503 and 408 say the request was not processed.
 *
 * @since 0.1.0
 * @category predicates
 */
export const mayHaveBeenProcessed = (error: unknown): boolean =>
  (error instanceof TransportError && error.mayHaveReachedServer) ||
  (error instanceof UnexpectedStatus && (error.status === 502 || error.status === 504))
