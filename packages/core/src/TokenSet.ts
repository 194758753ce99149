/**
 * The normalised token every provider returns: whatever the wire format (absolute seconds,
 * epoch milliseconds, `expires_in`, a JWT `exp` claim), a `TokenSet` holds the secrets as
 * `Redacted` values and the expiry as epoch milliseconds.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

const isFiniteTime = (time: number | undefined): time is number => time !== undefined && Number.isFinite(time)

/**
 * An expiry in epoch milliseconds. A time that is not finite (a server's `expires_at: 1e400`,
 * `expires_in: 1e308`, a JWT `exp` beyond what a double holds) means the server set no usable
 * limit: it is read as no expiry, the same as an absent one. The encoded form leaves it out
 * instead of writing `Infinity`, which JSON cannot hold (`JSON.stringify` writes `null`, which
 * would not decode), so such a token set round-trips through a persistent `TokenStore`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Expiry = Schema.optionalToOptional(Schema.UndefinedOr(Schema.Number), Schema.UndefinedOr(Schema.Number), {
  decode: Option.filter(isFiniteTime),
  encode: Option.filter(isFiniteTime)
})

/**
 * A set of tokens for one identity. `expiresAt` and `refreshExpiresAt` are epoch milliseconds;
 * an absent `expiresAt` means the provider did not say (or said "never", see `Expiry`), and the
 * session then refreshes only on demand or after a 401.
 *
 * The schema encodes the secrets as plain strings: that encoded form is what a `TokenStore`
 * persists, and it never reaches a log because the decoded value redacts them.
 *
 * @since 0.1.0
 * @category models
 */
export class TokenSet extends Schema.Class<TokenSet>("@effect-auth/core/TokenSet")({
  accessToken: Schema.Redacted(Schema.String),
  tokenType: Schema.String,
  expiresAt: Expiry,
  refreshToken: Schema.optional(Schema.Redacted(Schema.String)),
  refreshExpiresAt: Expiry,
  idToken: Schema.optional(Schema.Redacted(Schema.String)),
  scope: Schema.optional(Schema.String)
}) {}

/**
 * The fields shared by every constructor below.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fields {
  readonly accessToken: Redacted.Redacted<string>
  readonly tokenType?: string | undefined
  readonly refreshToken?: Redacted.Redacted<string> | undefined
  readonly idToken?: Redacted.Redacted<string> | undefined
  readonly scope?: string | undefined
}

/**
 * A token set of the fields that are there: a field left out costs nothing, where an `undefined`
 * one costs a slot for as long as a session holds the token set. A time that is not finite is
 * no expiry (see `Expiry`). The class's runtime validation is skipped: the fields are typed, and
 * a validated instance keeps about 140 bytes more.
 */
const present = (props: { readonly [K in keyof TokenSet]?: TokenSet[K] | undefined }): TokenSet => {
  const kept: Record<string, unknown> = {}
  for (const key in props) {
    const value = props[key as keyof typeof props]
    if (value !== undefined && (typeof value !== "number" || isFiniteTime(value))) kept[key] = value
  }
  return new TokenSet(kept as ConstructorParameters<typeof TokenSet>[0], true)
}

const build = (fields: Fields, expiresAt: number | undefined, refreshExpiresAt: number | undefined): TokenSet =>
  present({
    accessToken: fields.accessToken,
    tokenType: fields.tokenType ?? "Bearer",
    expiresAt,
    refreshToken: fields.refreshToken,
    refreshExpiresAt,
    idToken: fields.idToken,
    scope: fields.scope
  })

/**
 * Values at or above this are already milliseconds: as seconds they would lie more than
 * 30,000 years ahead, as milliseconds they are any date after 2001.
 */
const millisecondsThreshold = 1e12

/**
 * Normalises an absolute timestamp whose unit is seconds or milliseconds to epoch milliseconds.
 *
 * @since 0.1.0
 * @category conversions
 */
export const epochMillis = (value: number): number => value >= millisecondsThreshold ? value : value * 1000

/**
 * A token set whose access token lives `expiresIn` seconds from now (OAuth's `expires_in`).
 * The current time comes from Effect's `Clock`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromExpiresIn = (
  fields: Fields & {
    readonly expiresIn?: number | undefined
    readonly refreshExpiresIn?: number | undefined
  }
): Effect.Effect<TokenSet> =>
  Effect.map(Clock.currentTimeMillis, (now) =>
    build(
      fields,
      fields.expiresIn === undefined ? undefined : now + fields.expiresIn * 1000,
      fields.refreshExpiresIn === undefined ? undefined : now + fields.refreshExpiresIn * 1000
    ))

/**
 * A token set from absolute expiry times the server wrote, in seconds or milliseconds (see
 * `epochMillis`; `unit: "milliseconds"` when the provider documents milliseconds).
 *
 * `clockOffset` is how far the server's clock is ahead of ours (`Endpoint.Response`'s): the
 * times are moved onto our clock by it, so a lifetime is measured on the server's clock, where it
 * was set, and a client clock that is off neither sees a fresh token as expired nor an expired
 * one as fresh.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromExpiresAt = (
  fields: Fields & {
    readonly expiresAt?: number | undefined
    readonly refreshExpiresAt?: number | undefined
    readonly unit?: "seconds-or-milliseconds" | "milliseconds" | undefined
    readonly clockOffset?: number | undefined
  }
): TokenSet => {
  const offset = fields.clockOffset ?? 0
  const toLocal = (time: number | undefined) =>
    time === undefined ? undefined : (fields.unit === "milliseconds" ? time : epochMillis(time)) - offset
  return build(fields, toLocal(fields.expiresAt), toLocal(fields.refreshExpiresAt))
}

interface Claims {
  readonly exp?: number | undefined
  readonly iat?: number | undefined
}

// Built on first use, so that an application that never reads a JWT does not bundle the schema.
let decodeClaims: ((input: unknown) => Option.Option<Claims>) | undefined

const claimsOf = (token: Redacted.Redacted<string>): Option.Option<Claims> => {
  const parts = Redacted.value(token).split(".")
  if (parts.length !== 3) return Option.none()
  decodeClaims ??= Schema.decodeUnknownOption(Schema.parseJson(Schema.Struct({
    exp: Schema.optional(Schema.Number),
    iat: Schema.optional(Schema.Number)
  })))
  return Encoding.decodeBase64UrlString(parts[1]).pipe(Option.getRight, Option.flatMap(decodeClaims))
}

/**
 * The `exp` claim of a JWT as epoch milliseconds. The token is decoded, not verified: the
 * expiry only schedules a refresh, and the server remains the judge of validity. `None` when
 * the value is not a JWT or carries no `exp`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const jwtExpiry = (token: Redacted.Redacted<string>): Option.Option<number> =>
  claimsOf(token).pipe(
    Option.flatMap((claims) => Option.fromNullable(claims.exp)),
    Option.map((exp) => exp * 1000)
  )

/**
 * A token set whose expiry times come from the `exp` claims of the access and refresh tokens,
 * moved onto our clock:
 *
 * - with `clockOffset` (the server's `Date` header said what time it is; see
 *   `Endpoint.Response`), `exp` minus the offset;
 * - else, with `receivedAt` (our clock when the response arrived) and an `iat` claim, the
 *   lifetime `exp - iat` counted from `receivedAt`;
 * - else `exp` as it is, on the assumption that both clocks agree.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromJwt = (
  fields: Fields,
  clock: { readonly clockOffset?: number | undefined; readonly receivedAt?: number | undefined } = {}
): TokenSet => {
  const expiry = (token: Redacted.Redacted<string>): number | undefined =>
    claimsOf(token).pipe(
      Option.flatMap((claims): Option.Option<number> => {
        if (claims.exp === undefined) return Option.none()
        if (clock.clockOffset !== undefined) return Option.some(claims.exp * 1000 - clock.clockOffset)
        if (clock.receivedAt !== undefined && claims.iat !== undefined) {
          return Option.some(clock.receivedAt + (claims.exp - claims.iat) * 1000)
        }
        return Option.some(claims.exp * 1000)
      }),
      Option.getOrUndefined
    )
  return build(
    fields,
    expiry(fields.accessToken),
    fields.refreshToken === undefined ? undefined : expiry(fields.refreshToken)
  )
}

/**
 * Combines a refresh response with the token set it refreshed. RFC 6749 section 6: a response
 * without a refresh token means the old one stays valid, so it (and its expiry) is kept; a
 * response with one replaces it, which is how rotation is honoured.
 *
 * @since 0.1.0
 * @category combinators
 */
export const merge = (previous: TokenSet, next: TokenSet): TokenSet =>
  next.refreshToken !== undefined ? next : present({
    ...next,
    refreshToken: previous.refreshToken,
    refreshExpiresAt: previous.refreshExpiresAt,
    idToken: next.idToken ?? previous.idToken
  })

/**
 * Whether the access token is usable at `now` for at least `margin` more milliseconds. A token
 * without an expiry counts as valid: only the server can say otherwise.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isValidAt = (self: TokenSet, now: number, margin = 0): boolean =>
  self.expiresAt === undefined || self.expiresAt - margin > now

/**
 * Whether the refresh token can still be presented at `now`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const canRefreshAt = (self: TokenSet, now: number): boolean =>
  self.refreshToken !== undefined && (self.refreshExpiresAt === undefined || self.refreshExpiresAt > now)
