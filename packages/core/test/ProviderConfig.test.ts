import * as ProviderConfig from "@effect-auth/core/ProviderConfig"
import { assert, describe, it } from "@effect/vitest"
import type * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/** Reads `config` from these variables only: the message of its failure, or its value. */
const read = <A>(config: Config.Config<A>, variables: Record<string, string>) =>
  Effect.either(config).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(variables)))),
    Effect.map(Either.mapLeft(String))
  )

const sets = { provider: "Acme", sets: [["ACME_KEY"], ["ACME_USER", "ACME_PASSWORD"]], related: ["ACME_BASE_URL"] }

describe("ProviderConfig", () => {
  it.effect("choose: nothing set, a complete set, or a partial one that names what is set and missing", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* read(ProviderConfig.choose(sets), {}), Either.right(Option.none()))
      assert.deepStrictEqual(yield* read(ProviderConfig.choose(sets), { ACME_KEY: "k" }), Either.right(Option.some(0)))
      assert.deepStrictEqual(
        yield* read(ProviderConfig.choose(sets), { ACME_USER: "ada", ACME_PASSWORD: "pw", ACME_BASE_URL: "https://a" }),
        Either.right(Option.some(1))
      )
      assert.deepStrictEqual(
        yield* read(ProviderConfig.choose(sets), { ACME_BASE_URL: "https://a", ACME_USER: "ada" }),
        Either.left(
          "(Missing data at ACME_PASSWORD: \"Acme: ACME_USER and ACME_BASE_URL are set but ACME_PASSWORD is missing; " +
            "set ACME_KEY, or ACME_USER and ACME_PASSWORD\")"
        )
      )
      // Blank counts as unset: an exported empty variable is no credential.
      assert.deepStrictEqual(yield* read(ProviderConfig.choose(sets), { ACME_KEY: " " }), Either.right(Option.none()))
    }))

  it.effect("baseUrl: the default, a required one, and a bad one named by its variable", () =>
    Effect.gen(function*() {
      const withDefault = ProviderConfig.baseUrl("ACME_BASE_URL", { default: "https://acme.test" })
      assert.deepStrictEqual(yield* read(withDefault, {}), Either.right("https://acme.test"))
      assert.deepStrictEqual(
        yield* read(withDefault, { ACME_BASE_URL: "notaurl" }),
        Either.left(
          "(Invalid data at ACME_BASE_URL: \"ACME_BASE_URL is not a usable base URL: \"notaurl\" is not an " +
            "absolute URL (expected https://host[/path])\")"
        )
      )
      const required = ProviderConfig.baseUrl("ACME_BASE_URL", { hint: "Acme has no default host" })
      assert.deepStrictEqual(
        yield* read(required, {}),
        Either.left("(Missing data at ACME_BASE_URL: \"ACME_BASE_URL is required: Acme has no default host\")")
      )
    }))

  it.effect("secret: a missing one is named, a present one stays Redacted", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(
        yield* read(ProviderConfig.secret("ACME_PASSWORD"), {}),
        Either.left("(Missing data at ACME_PASSWORD: \"ACME_PASSWORD is not set\")")
      )
      const present = yield* read(ProviderConfig.secret("ACME_PASSWORD"), { ACME_PASSWORD: "hunter2" })
      assert.isTrue(Either.isRight(present) && Redacted.value(present.right) === "hunter2")
      assert.notInclude(String(present), "hunter2")
    }))
})
