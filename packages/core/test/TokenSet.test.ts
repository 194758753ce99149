import * as TokenSet from "@effect-auth/core/TokenSet"
import * as TokenStore from "@effect-auth/core/TokenStore"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"

const jwt = (claims: object): Redacted.Redacted<string> =>
  Redacted.make(
    `${Encoding.encodeBase64Url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${
      Encoding.encodeBase64Url(JSON.stringify(claims))
    }.signature`
  )

describe("TokenSet", () => {
  it.effect("fromExpiresIn counts from the Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const tokens = yield* TokenSet.fromExpiresIn({ accessToken: Redacted.make("a"), expiresIn: 3600 })
      assert.strictEqual(tokens.expiresAt, 1_700_000_000_000 + 3_600_000)
      assert.strictEqual(tokens.tokenType, "Bearer")
    }))

  it("fromExpiresAt accepts seconds and milliseconds", () => {
    const seconds = TokenSet.fromExpiresAt({ accessToken: Redacted.make("a"), expiresAt: 1_700_000_000 })
    const millis = TokenSet.fromExpiresAt({ accessToken: Redacted.make("a"), expiresAt: 1_700_000_000_000 })
    assert.strictEqual(seconds.expiresAt, 1_700_000_000_000)
    assert.strictEqual(millis.expiresAt, 1_700_000_000_000)
  })

  it("fromJwt reads the exp claims and tolerates tokens that are not JWTs", () => {
    const tokens = TokenSet.fromJwt({
      accessToken: jwt({ sub: "u", exp: 1_700_000_600 }),
      refreshToken: jwt({ sub: "u", exp: 1_700_086_400 })
    })
    assert.strictEqual(tokens.expiresAt, 1_700_000_600_000)
    assert.strictEqual(tokens.refreshExpiresAt, 1_700_086_400_000)
    assert.isTrue(Option.isNone(TokenSet.jwtExpiry(Redacted.make("opaque-token"))))
    assert.isTrue(Option.isNone(TokenSet.jwtExpiry(jwt({ sub: "no-exp" }))))
    assert.isTrue(Option.isNone(TokenSet.jwtExpiry(Redacted.make("a.%%%.c"))))
    assert.strictEqual(TokenSet.fromJwt({ accessToken: Redacted.make("opaque") }).expiresAt, undefined)
  })

  it("merge keeps the old refresh token when the response has none (RFC 6749 section 6)", () => {
    const previous = TokenSet.fromExpiresAt({
      accessToken: Redacted.make("a1"),
      refreshToken: Redacted.make("r1"),
      expiresAt: 1000,
      refreshExpiresAt: 9000
    })
    const kept = TokenSet.merge(previous, TokenSet.fromExpiresAt({ accessToken: Redacted.make("a2"), expiresAt: 2000 }))
    assert.strictEqual(Redacted.value(kept.accessToken), "a2")
    assert.strictEqual(kept.refreshToken && Redacted.value(kept.refreshToken), "r1")
    assert.strictEqual(kept.refreshExpiresAt, 9_000_000)
    const rotated = TokenSet.merge(
      previous,
      TokenSet.fromExpiresAt({ accessToken: Redacted.make("a3"), refreshToken: Redacted.make("r2"), expiresAt: 3000 })
    )
    assert.strictEqual(rotated.refreshToken && Redacted.value(rotated.refreshToken), "r2")
  })

  it("redacts its secrets when printed and encodes them for storage", () => {
    const tokens = TokenSet.fromExpiresAt({
      accessToken: Redacted.make("access-secret"),
      refreshToken: Redacted.make("refresh-secret"),
      idToken: Redacted.make("id-secret"),
      expiresAt: 1000
    })
    for (const printed of [String(tokens), JSON.stringify(tokens), `${tokens.accessToken}`]) {
      assert.notInclude(printed, "secret")
    }
    const encoded = Schema.encodeSync(TokenSet.TokenSet)(tokens)
    assert.strictEqual(encoded.accessToken, "access-secret")
    const decoded = Schema.decodeSync(TokenSet.TokenSet)(encoded)
    assert.strictEqual(decoded.refreshToken && Redacted.value(decoded.refreshToken), "refresh-secret")
  })

  it("isValidAt and canRefreshAt", () => {
    const tokens = TokenSet.fromExpiresAt({
      accessToken: Redacted.make("a"),
      refreshToken: Redacted.make("r"),
      expiresAt: 10_000_000_000_000,
      refreshExpiresAt: 20_000_000_000_000
    })
    assert.isTrue(TokenSet.isValidAt(tokens, 9_999_999_999_000))
    assert.isFalse(TokenSet.isValidAt(tokens, 9_999_999_999_000, 1000))
    assert.isTrue(TokenSet.canRefreshAt(tokens, 19_000_000_000_000))
    assert.isFalse(TokenSet.canRefreshAt(tokens, 20_000_000_000_000))
    assert.isTrue(
      TokenSet.isValidAt(TokenSet.fromJwt({ accessToken: Redacted.make("opaque") }), Number.MAX_SAFE_INTEGER)
    )
  })
})

describe("TokenSet expiry that is not finite", () => {
  it.effect("expires_at 1e400, expires_in 1e308 and a huge exp read as no expiry", () =>
    Effect.gen(function*() {
      const accessToken = Redacted.make("a")
      assert.isUndefined(TokenSet.fromExpiresAt({ accessToken, expiresAt: JSON.parse("1e400") }).expiresAt)
      assert.isUndefined((yield* TokenSet.fromExpiresIn({ accessToken, expiresIn: 1e308 })).expiresAt)
      assert.isUndefined(TokenSet.fromJwt({ accessToken: jwt({ exp: 1e308 }) }).expiresAt)
    }))

  it.effect("a token set with an Infinity expiry round-trips through the KeyValueStore store", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.TokenStore
      // Built directly, as a session does when it stamps a refresh lifetime of Duration.infinity.
      const tokens = new TokenSet.TokenSet({
        accessToken: Redacted.make("a"),
        tokenType: "Bearer",
        expiresAt: Infinity,
        refreshToken: Redacted.make("r"),
        refreshExpiresAt: Infinity
      })
      yield* store.set("k", tokens, undefined)
      const read = yield* store.get("k")
      assert.isTrue(Option.isSome(read))
      if (Option.isNone(read)) return
      assert.strictEqual(Redacted.value(read.value.tokens.accessToken), "a")
      assert.isUndefined(read.value.tokens.expiresAt)
      assert.isTrue(TokenSet.isValidAt(read.value.tokens, Number.MAX_SAFE_INTEGER))
      assert.isTrue(TokenSet.canRefreshAt(read.value.tokens, Number.MAX_SAFE_INTEGER))
    }).pipe(Effect.provide(TokenStore.layerKeyValueStore().pipe(Layer.provide(KeyValueStore.layerMemory)))))
})

describe("TokenSet clock offset", () => {
  it("fromExpiresAt and fromJwt move server times onto our clock", () => {
    const accessToken = Redacted.make("a")
    // The server is 5 minutes ahead: its 12:10 is our 12:05.
    const offset = 5 * 60_000
    assert.strictEqual(
      TokenSet.fromExpiresAt({ accessToken, expiresAt: 1_700_000_600, clockOffset: offset }).expiresAt,
      1_700_000_600_000 - offset
    )
    assert.strictEqual(
      TokenSet.fromExpiresAt({ accessToken, expiresAt: 600_000, unit: "milliseconds", clockOffset: -offset }).expiresAt,
      600_000 + offset
    )
    assert.strictEqual(
      TokenSet.fromJwt({ accessToken: jwt({ exp: 1_700_000_600 }) }, { clockOffset: offset }).expiresAt,
      1_700_000_600_000 - offset
    )
  })
})
