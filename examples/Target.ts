/**
 * Where a provider example runs, decided by the environment before anything else happens:
 *
 * - none of the provider's variables set: against the provider's fake, served on a localhost port;
 * - a complete set of credentials set: against the real API;
 * - anything in between: a `MissingVariables` failure that names what is missing, so a typo in one
 *   variable never sends the other credentials anywhere.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * `"fake"`: the provider's fake on a localhost port; `"real"`: the provider's API.
 *
 * @since 0.1.0
 * @category models
 */
export type Target = "fake" | "real"

const list = (names: ReadonlyArray<string>): string =>
  names.length <= 1 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`

/**
 * Some of a provider's variables are set, but no complete set of credentials.
 *
 * @since 0.1.0
 * @category errors
 */
export class MissingVariables extends Schema.TaggedError<MissingVariables>("@effect-auth/examples/MissingVariables")(
  "MissingVariables",
  {
    provider: Schema.String,
    /** The variables that are set (names only). */
    present: Schema.Array(Schema.String),
    /** What the nearest complete set still lacks. */
    missing: Schema.Array(Schema.String),
    /** Every complete set of credentials, as alternatives. */
    complete: Schema.Array(Schema.Array(Schema.String))
  }
) {
  override get message(): string {
    const verb = (names: ReadonlyArray<string>) => names.length === 1 ? "is" : "are"
    const alternatives = this.complete.map(list).join(", or ")
    return `${this.provider}: ${list(this.present)} ${verb(this.present)} set but ${list(this.missing)} ` +
      `${verb(this.missing)} missing. To run against the real API set ${alternatives}; ` +
      `to run against the fake, unset them all.`
  }
}

/**
 * Reads the provider's variables with `Config` (secrets as `Config.redacted`, and only to see
 * whether they are set: an empty value counts as unset) and decides where the example runs.
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
}): Effect.Effect<Target, MissingVariables | ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const present = yield* Effect.filter(options.variables, (name) =>
      Effect.map(
        Config.option(Config.redacted(name)),
        Option.exists((value) => Redacted.value(value).trim() !== "")
      ))
    if (present.length === 0) return "fake"
    const lacking = options.complete.map((set) => set.filter((name) => !present.includes(name)))
    if (lacking.some((missing) => missing.length === 0)) return "real"
    const nearest = lacking.reduce((best, missing) => missing.length < best.length ? missing : best)
    return yield* new MissingVariables({
      provider: options.provider,
      present,
      missing: nearest,
      complete: options.complete.map((set) => [...set])
    })
  })

/**
 * A `ConfigProvider` holding a fake's address and credentials under the provider's variable
 * names: the example's layers read it exactly as they read the environment for the real API.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fakeConfig = (variables: Readonly<Record<string, string>>): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromMap(new Map(Object.entries(variables)))
