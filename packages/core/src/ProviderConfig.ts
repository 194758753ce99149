/**
 * Configuration that explains itself: the `Config` pieces every provider's `layerConfig` reads
 * its variables with, so that a wrong or partial configuration fails when the layer is built,
 * with a `ConfigError` that names the variable and says what is wrong with it.
 *
 * - `baseUrl`: a base URL variable, checked as `Endpoint.validateBaseUrl` checks one given in
 *   code, with the variable's name as the error's path (`Invalid data at OCCAM_BASE_URL: ...`).
 * - `secret`: a secret variable, `Redacted`; unlike `Config.redacted`, a missing one says which
 *   variable is missing rather than `"<redacted>"` (a missing value has nothing to hide).
 * - `choose` and `credentials`: credentials from one of several complete sets of variables
 *   (such as an API key, or a username and a password). Some variables of a set without the
 *   rest is a `MissingData` naming what is set and what is missing, so a typo in one variable
 *   never sends the others anywhere.
 * - `requireCredentials`: the same promise for options given in code, from plain JavaScript
 *   too: a session built without credentials fails with a `ConfigError` rather than a `TypeError`.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { baseUrlProblem } from "./internal/baseUrl.js"

/** A `MissingData` (or, `invalid`, an `InvalidData`) at `name`, as the failure of a check. */
const failure = <A>(name: string, message: string, invalid?: boolean): Either.Either<A, ConfigError.ConfigError> =>
  Either.left((invalid ? ConfigError.InvalidData : ConfigError.MissingData)([name], message))

/**
 * The variable `name`, unset or blank (an exported empty variable) being `onMissing`, any other
 * value `onValue`'s: the one reader every constructor below shares.
 */
const variable = <A>(
  name: string,
  onValue: (value: string) => Either.Either<A, ConfigError.ConfigError>,
  onMissing: () => Either.Either<A, ConfigError.ConfigError> = () => failure(name, `${name} is not set`)
): Config.Config<A> =>
  Config.mapOrFail(
    Config.option(Config.string(name)),
    (value) => Option.isSome(value) && value.value.trim() !== "" ? onValue(value.value) : onMissing()
  )

/** Names as a sentence: `A`, `A and B`, `A, B and C`. */
const list = (names: ReadonlyArray<string>): string => names.join(", ").replace(/, (?=[^,]*$)/, " and ")

const isAre = (names: ReadonlyArray<string>): string => `${list(names)} ${names.length === 1 ? "is" : "are"}`

/** The alternatives a user may set: `A, or B and C`. */
const alternatives = (sets: ReadonlyArray<ReadonlyArray<string>>): string => `set ${sets.map(list).join(", or ")}`

/**
 * A base URL from the variable `name`: unset or blank gives `options.default`, or, without one, a
 * `MissingData` at `name` that says what to set (`options.hint`). A value that is not an absolute
 * `http(s)` URL, or carries credentials, a query or a fragment, is `InvalidData` at `name`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const baseUrl = (
  name: string,
  options: { readonly default?: string | undefined; readonly hint?: string | undefined } = {}
): Config.Config<string> =>
  variable(
    name,
    (url) => {
      const problem = baseUrlProblem(url)
      return problem === undefined
        ? Either.right(url)
        : failure(name, `${name} is not a usable base URL: ${problem}`, true)
    },
    () =>
      options.default !== undefined
        ? Either.right(options.default)
        : failure(name, `${name} is required${options.hint ? `: ${options.hint}` : ""}`)
  )

/**
 * A secret from the variable `name`, as `Redacted`. A missing one fails with `MissingData` at
 * `name` saying that it is not set (`Config.redacted` would say `"<redacted>"`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const secret = (name: string): Config.Config<Redacted.Redacted<string>> =>
  variable(name, (value) => Either.right(Redacted.make(value)))

/**
 * A plain (not secret) value from the variable `name`; blank counts as not set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const string = (name: string): Config.Config<string> => variable(name, Either.right)

/**
 * What `choose` decides from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sets {
  /** The provider's name, for the message (`"Occam AI"`). */
  readonly provider: string
  /** The complete sets of credential variables, as alternatives, in order of preference. */
  readonly sets: ReadonlyArray<ReadonlyArray<string>>
  /**
   * Variables that only make sense with credentials (such as a base URL): set alone, they are a
   * partial configuration too. Default: none.
   */
  readonly related?: ReadonlyArray<string> | undefined
  /** A sentence appended to the message of a partial configuration (what else the user may do). */
  readonly hint?: string | undefined
}

/**
 * Which complete set of credential variables is configured: `None` when no variable of any set
 * (nor a related one) is set, the index of the first complete set otherwise. Any other mix fails
 * with a `MissingData` at the first missing variable of the nearest set, whose message names the
 * variables set and missing (`Occam AI: OCCAM_USERNAME is set but OCCAM_PASSWORD is missing; set
 * OCCAM_USERNAME and OCCAM_PASSWORD, or OCCAM_API_KEY`). Values are read only to see whether they
 * are set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const choose = (options: Sets): Config.Config<Option.Option<number>> => {
  const names = [...new Set([...options.sets.flat(), ...(options.related ?? [])])]
  return Config.mapOrFail(
    // Whether each variable is set; its value is never kept.
    Config.all(names.map((name) => variable(name, () => Either.right(true), () => Either.right(false)))),
    (flags) => {
      const present = names.filter((_, index) => flags[index])
      const lacking = options.sets.map((set) => set.filter((name) => !present.includes(name)))
      const complete = lacking.findIndex((missing) => missing.length === 0)
      if (present.length === 0 || complete >= 0) {
        return Either.right(present.length === 0 ? Option.none() : Option.some(complete))
      }
      // The nearest set lacks the fewest variables; on a tie, the one with more of its variables
      // set is the one the user was filling in (a username without a password is not an API key).
      const distance = (index: number) => lacking[index].length * 1e3 - options.sets[index].length
      const missing = lacking[lacking.reduce((best, _, index) => distance(index) < distance(best) ? index : best, 0)]
      return failure(
        missing[0],
        `${options.provider}: ${isAre(present)} set but ${isAre(missing)} missing; ${alternatives(options.sets)}${
          options.hint === undefined ? "" : `; ${options.hint}`
        }`
      )
    }
  )
}

/**
 * One complete set of credential variables and how to read it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CredentialSet<A> {
  readonly variables: ReadonlyArray<string>
  readonly config: Config.Config<A>
}

/**
 * Credentials from the first complete set of variables (see `choose`), or `None` when none of
 * the variables is set (a session that resumes from its store, say).
 *
 * @since 0.1.0
 * @category constructors
 */
export const optionalCredentials = <A>(options: {
  readonly provider: string
  readonly sets: ReadonlyArray<CredentialSet<A>>
}): Config.Config<Option.Option<A>> =>
  Config.map(
    Config.all([
      choose({ provider: options.provider, sets: options.sets.map((set) => set.variables) }),
      Config.all(options.sets.map((set) => Config.option(set.config)))
    ]),
    ([chosen, values]) => Option.flatMap(chosen, (index) => values[index])
  )

/**
 * Credentials from the first complete set of variables (see `choose`). None of them set is a
 * `MissingData` at the first variable of the first set, whose message lists every alternative.
 *
 * @since 0.1.0
 * @category constructors
 */
export const credentials = <A>(options: {
  readonly provider: string
  readonly sets: ReadonlyArray<CredentialSet<A>>
}): Config.Config<A> =>
  Config.mapOrFail(
    optionalCredentials(options),
    (credentials) =>
      Either.fromOption(credentials, () =>
        ConfigError.MissingData(
          [options.sets[0]?.variables[0] ?? ""],
          `${options.provider}: no credentials are configured; ${
            alternatives(options.sets.map((set) => set.variables))
          }`
        ))
  )

/**
 * The credentials of a session's options, checked where plain JavaScript could leave them out
 * or misshape them: `undefined` (or `null`) fails with `MissingData` at `credentials`, a value
 * `isValid` refuses with `InvalidData` at `credentials`; both say what was expected (`expected`,
 * such as `"{ username, password } or { apiKey }"`). The values themselves are never quoted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const requireCredentials = <C>(
  provider: string,
  credentials: C | undefined,
  expected: string,
  isValid: (credentials: C) => boolean
): Effect.Effect<C, ConfigError.ConfigError> =>
  // An `Either` is an `Effect` that needs nothing.
  credentials == null
    ? failure("credentials", `${provider}: the session needs credentials: ${expected}`)
    : isValid(credentials)
    ? Either.right(credentials)
    : failure("credentials", `${provider}: the credentials must be ${expected}`, true)

/**
 * Whether `value` is an object whose `fields` are all non-empty strings or `Redacted` values:
 * the check `requireCredentials` needs for credentials built in plain JavaScript.
 *
 * @since 0.1.0
 * @category predicates
 */
export const hasFields = (value: unknown, fields: ReadonlyArray<string>): boolean =>
  typeof value === "object" && value !== null &&
  fields.every((field) => {
    const held: unknown = Reflect.get(value, field)
    return Redacted.isRedacted(held) || (typeof held === "string" && held !== "")
  })
