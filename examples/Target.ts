/**
 * Where a provider example runs, decided by the environment before anything else happens:
 *
 * - none of the provider's variables set: against the provider's fake, served on a localhost port;
 * - a complete set of credentials set: against the real API;
 * - anything in between: a `ConfigError` that names what is set and what is missing, so a typo in
 *   one variable never sends the other credentials anywhere.
 *
 * The check is the library's (`ProviderConfig.choose`, which every `layerConfig` uses for its
 * credentials); the examples only add the variables the real run needs besides them.
 *
 * @since 0.1.0
 */
import * as ProviderConfig from "@effect-auth/core/ProviderConfig"
import type * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/**
 * `"fake"`: the provider's fake on a localhost port; `"real"`: the provider's API.
 *
 * @since 0.1.0
 * @category models
 */
export type Target = "fake" | "real"

/**
 * Reads the provider's variables with `Config` (only to see whether they are set: an empty value
 * counts as unset) and decides where the example runs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const choose = (options: {
  readonly provider: string
  /** Every variable the example reads, optional ones (such as a base URL) included. */
  readonly variables: ReadonlyArray<string>
  /** The complete sets of credentials, as alternatives (such as an API key, or a username and password). */
  readonly complete: ReadonlyArray<ReadonlyArray<string>>
}): Effect.Effect<Target, ConfigError.ConfigError> =>
  Effect.map(
    ProviderConfig.choose({
      provider: options.provider,
      sets: options.complete,
      related: options.variables,
      hint: "to run against the fake, unset them all"
    }),
    Option.match({ onNone: (): Target => "fake", onSome: (): Target => "real" })
  )

/**
 * A `ConfigProvider` holding a fake's address and credentials under the provider's variable
 * names: the example's layers read it exactly as they read the environment for the real API.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fakeConfig = (variables: Readonly<Record<string, string>>): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromMap(new Map(Object.entries(variables)))
