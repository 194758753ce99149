/**
 * A self-refreshing token for one identity, shared by every fiber that needs it.
 *
 * Built from a `login` effect, an optional `refresh` effect and an optional `revoke` effect, a
 * session keeps a valid `TokenSet` for as long as its scope lives:
 *
 * - single-flight: concurrent callers share one in-flight request; a failure reaches the callers
 *   waiting on it and is not cached; an interrupted caller does not cancel the shared request;
 * - proactive refresh: a fiber scoped to the session sleeps until `expiresAt - skew - jitter` and
 *   refreshes; a failed proactive refresh is retried on a schedule and never ends the loop;
 * - rotation: a new refresh token is written to the `TokenStore` before the new access token is
 *   handed out; a refresh response without one keeps the old one; a rejected refresh re-reads the
 *   store and adopts a token another instance rotated, else logs in again when it can, else fails
 *   with `ReauthenticationRequired`;
 * - observable: `changes` streams `Valid`, `Refreshing`, `Failed` and `ReauthenticationRequired`;
 *   every login, refresh and revoke runs in a span and counts in metrics.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type * as TokenSet from "./TokenSet.js"

/**
 * The session can no longer obtain a token by itself: its refresh token was rejected, no other
 * instance left a newer one in the store, and it has no credentials to log in again with.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReauthenticationRequired extends Schema.TaggedError<ReauthenticationRequired>(
  "@effect-auth/core/ReauthenticationRequired"
)("ReauthenticationRequired", {
  provider: Schema.String,
  key: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.provider} session "${this.key}" needs to authenticate again: ${this.reason}`
  }
}

/**
 * What the session is doing, as `changes` reports it. No state carries a secret.
 *
 * @since 0.1.0
 * @category models
 */
export type State =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Valid"; readonly expiresAt: number | undefined }
  | { readonly _tag: "Refreshing" }
  | { readonly _tag: "Failed"; readonly error: string }
  | { readonly _tag: "ReauthenticationRequired"; readonly reason: string }

/**
 * A session. `E` is the union of the errors its login and refresh can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthSession<E> {
  readonly provider: string
  readonly key: string
  /** A valid token set: the current one, or the result of the one in-flight login or refresh. */
  readonly token: Effect.Effect<TokenSet.TokenSet, E | ReauthenticationRequired>
  /** The access token of `token`. */
  readonly accessToken: Effect.Effect<Redacted.Redacted<string>, E | ReauthenticationRequired>
  /**
   * Marks the token a server rejected (after a 401) as unusable. Only the current token is
   * affected: however many callers report the same token, the session refetches once, and a
   * token older than the current one is ignored.
   */
  readonly invalidate: (seen: TokenSet.TokenSet) => Effect.Effect<void>
  /** Refreshes now, whatever the expiry, and returns the new token set. */
  readonly refresh: Effect.Effect<TokenSet.TokenSet, E | ReauthenticationRequired>
  /** Revokes the token when the provider can, then forgets it and clears the store. */
  readonly logout: Effect.Effect<void, E>
  /** The current state. */
  readonly state: Effect.Effect<State>
  /** The current state, then every change. */
  readonly changes: Stream.Stream<State>
}

/**
 * How to build a session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E, R> {
  /** The provider name, used in spans, metrics and errors (such as `"occam"`). */
  readonly provider: string
  /** The key the tokens are stored under in the `TokenStore`. */
  readonly key: string
  /** Obtains a fresh token set from credentials; absent when the session has none. */
  readonly login?: Effect.Effect<TokenSet.TokenSet, E, R> | undefined
  /** Exchanges a refresh token for a new token set; absent when the provider has no refresh. */
  readonly refresh?: ((refreshToken: Redacted.Redacted<string>) => Effect.Effect<TokenSet.TokenSet, E, R>) | undefined
  /** Whether a refresh failure means the refresh token is dead (rather than a passing fault). */
  readonly isRefreshRejected?: ((error: E) => boolean) | undefined
  /** Revokes a token set at the provider; absent when the provider cannot. */
  readonly revoke?: ((tokens: TokenSet.TokenSet) => Effect.Effect<void, E, R>) | undefined
  /** Revoke when the session's scope closes. Default: false. */
  readonly revokeOnClose?: boolean | undefined
  /** A token set to start from when the store holds none (such as a configured refresh token). */
  readonly initial?: TokenSet.TokenSet | undefined
  /** Refresh this long before expiry. Default: 60 seconds. */
  readonly skew?: Duration.DurationInput | undefined
  /** Refresh up to this much earlier again, at random, so instances spread out. Default: 30 seconds. */
  readonly jitter?: Duration.DurationInput | undefined
}
