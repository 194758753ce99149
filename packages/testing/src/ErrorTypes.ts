/**
 * Type tests for error channels: `exactly<E>()(effect)` compiles only when the effect's error
 * type is exactly `E`, no wider (a tag callers would handle in vain) and no narrower (a tag they
 * would miss). It does nothing at run time and never runs the effect.
 *
 * ```ts
 * ErrorTypes.exactly<InvalidCredentials | ValidationError | AuthError.AuthError | SessionClosed>()(session.token)
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

/**
 * `true` when `A` and `B` are the same type (not merely assignable to each other).
 *
 * @since 0.1.0
 * @category models
 */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false

/**
 * Checks at compile time that the error type of an effect is exactly `Expected`; a mismatch
 * asks for a second argument that names both types, which is the compiler's error message.
 *
 * @since 0.1.0
 * @category assertions
 */
export const exactly = <Expected>() =>
<A, E, R>(
  _effect: Effect.Effect<A, E, R>,
  ..._mismatch: Equals<Expected, E> extends true ? [] : [mismatch: { readonly expected: Expected; readonly actual: E }]
): void => {}

/**
 * Handlers for the errors every provider session shares (`TransportError`, `UnexpectedStatus`,
 * `MalformedResponse` and `SessionClosed`), each answering its tag: spread them into a
 * `catchTags` beside the provider's own tags to show which handlers empty a session's channel.
 *
 * @since 0.1.0
 * @category handlers
 */
export const sharedHandlers = {
  TransportError: () => Effect.succeed("TransportError"),
  UnexpectedStatus: () => Effect.succeed("UnexpectedStatus"),
  MalformedResponse: () => Effect.succeed("MalformedResponse"),
  SessionClosed: () => Effect.succeed("SessionClosed")
}
