/**
 * The normalised token every provider returns: whatever the wire format (absolute seconds,
 * epoch milliseconds, `expires_in`, a JWT `exp` claim), a `TokenSet` holds the secrets as
 * `Redacted` values and the expiry as epoch milliseconds.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * A set of tokens for one identity. `expiresAt` and `refreshExpiresAt` are epoch milliseconds;
 * an absent `expiresAt` means the provider did not say, and the session then refreshes only on
 * demand or after a 401.
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
  expiresAt: Schema.optional(Schema.Number),
  refreshToken: Schema.optional(Schema.Redacted(Schema.String)),
  refreshExpiresAt: Schema.optional(Schema.Number),
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

// The constructors below skip the class's runtime validation: their fields are typed, and a
// validated instance keeps about 140 bytes more for as long as a session holds it.
const build = (fields: Fields, expiresAt: number | undefined, refreshExpiresAt: number | undefined): TokenSet =>
  new TokenSet({
    accessToken: fields.accessToken,
    tokenType: fields.tokenType ?? "Bearer",
    expiresAt,
    refreshToken: fields.refreshToken,
    refreshExpiresAt,
    idToken: fields.idToken,
    scope: fields.scope
  }, true)

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
 * A token set from absolute expiry times given in seconds or milliseconds (see `epochMillis`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromExpiresAt = (
  fields: Fields & {
    readonly expiresAt?: number | undefined
    readonly refreshExpiresAt?: number | undefined
  }
): TokenSet =>
  build(
    fields,
    fields.expiresAt === undefined ? undefined : epochMillis(fields.expiresAt),
    fields.refreshExpiresAt === undefined ? undefined : epochMillis(fields.refreshExpiresAt)
  )

const JwtClaims = Schema.parseJson(Schema.Struct({ exp: Schema.optional(Schema.Number) }))
const decodeClaims = Schema.decodeUnknownOption(JwtClaims)

/**
 * The `exp` claim of a JWT as epoch milliseconds. The token is decoded, not verified: the
 * expiry only schedules a refresh, and the server remains the judge of validity. `None` when
 * the value is not a JWT or carries no `exp`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const jwtExpiry = (token: Redacted.Redacted<string>): Option.Option<number> => {
  const parts = Redacted.value(token).split(".")
  if (parts.length !== 3) return Option.none()
  return Encoding.decodeBase64UrlString(parts[1]).pipe(
    Either.getRight,
    Option.flatMap(decodeClaims),
    Option.flatMap((claims) => Option.fromNullable(claims.exp)),
    Option.map((exp) => exp * 1000)
  )
}

/**
 * A token set whose expiry times come from the `exp` claims of the access and refresh tokens.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromJwt = (fields: Fields): TokenSet =>
  build(
    fields,
    Option.getOrUndefined(jwtExpiry(fields.accessToken)),
    fields.refreshToken === undefined ? undefined : Option.getOrUndefined(jwtExpiry(fields.refreshToken))
  )

/**
 * Combines a refresh response with the token set it refreshed. RFC 6749 section 6: a response
 * without a refresh token means the old one stays valid, so it (and its expiry) is kept; a
 * response with one replaces it, which is how rotation is honoured.
 *
 * @since 0.1.0
 * @category combinators
 */
export const merge = (previous: TokenSet, next: TokenSet): TokenSet =>
  next.refreshToken !== undefined ? next : new TokenSet({
    ...next,
    refreshToken: previous.refreshToken,
    refreshExpiresAt: previous.refreshExpiresAt,
    idToken: next.idToken ?? previous.idToken
  }, true)

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
