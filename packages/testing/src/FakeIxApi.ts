/**
 * A fake IX-API v2 auth server: `POST /auth/token` and `POST /auth/refresh` answer 201 with real
 * HS256 JWTs (signed with a key of the fake's own, carrying `iss`, `sub`, `iat`, `exp`, `jti`),
 * errors are RFC 7807 problems with the documented `type` URIs, refresh tokens expire and are
 * single-use, and a protected `GET /accounts` answers 401 once the access token has expired.
 *
 * Times come from Effect's `Clock` and the signing is synchronous, so in memory the whole
 * exchange runs on the calling fiber and `TestClock` drives every expiry.
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as FakeServer from "./FakeServer.js"

/**
 * The prefix of the problem `type` URIs the fake answers with.
 *
 * @since 0.1.0
 * @category constants
 */
export const problemTypePrefix = "https://errors.ix-api.net/v2/"

/**
 * What the fake issues: real JWTs (the default), JWTs without an `exp` claim, or opaque strings.
 * Whatever the format, the fake enforces the lifetimes itself, so a client that cannot read the
 * expiry only learns of it from a 401.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenFormat = "jwt" | "jwt-without-exp" | "opaque"

/**
 * The claims of a token the fake issued.
 *
 * @since 0.1.0
 * @category models
 */
export interface Claims {
  readonly iss: string
  readonly sub: string
  readonly iat: number
  readonly exp?: number | undefined
  readonly jti: string
  readonly token_type: "access" | "refresh"
}

/**
 * The options of `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The path the API is mounted under: the path of the base URL. Default: `/api/v2`. */
  readonly basePath?: `/${string}` | undefined
  /** API users known from the start. Default: none (add them with `addApiKey`). */
  readonly apiKeys?:
    | ReadonlyArray<{ readonly apiKey: string; readonly apiSecret: string; readonly subject?: string | undefined }>
    | undefined
  /** How long an access token lives. Default: 5 minutes. */
  readonly accessLifetime?: Duration.DurationInput | undefined
  /** How long a refresh token lives. Default: 24 hours. */
  readonly refreshLifetime?: Duration.DurationInput | undefined
  /** Default: `"jwt"`. */
  readonly tokenFormat?: TokenFormat | undefined
  /** Whether a used refresh token is rejected (401) when presented again. Default: true. */
  readonly singleUseRefresh?: boolean | undefined
  /** The HS256 key (at least 32 bytes recommended). Default: 32 random bytes. */
  readonly signingKey?: Uint8Array | string | undefined
}

/**
 * A running fake.
 *
 * @since 0.1.0
 * @category models
 */
export interface FakeIxApi {
  /** The server: its in-memory client, fault queue and request log. */
  readonly server: FakeServer.FakeServer
  /** The path the API is mounted under, such as `/api/v2`. */
  readonly basePath: string
  /** Adds (or replaces) an API user; `subject` (the JWT `sub`) defaults to the key. */
  readonly addApiKey: (
    apiKey: string,
    apiSecret: string,
    options?: { readonly subject?: string | undefined }
  ) => Effect.Effect<void>
  /** Removes an API user: its key no longer logs in, and its tokens are rejected. */
  readonly removeApiKey: (apiKey: string) => Effect.Effect<void>
  /** Sets the lifetimes of tokens issued from now on. */
  readonly setLifetimes: (lifetimes: {
    readonly access?: Duration.DurationInput | undefined
    readonly refresh?: Duration.DurationInput | undefined
  }) => Effect.Effect<void>
  /** Sets the format of tokens issued from now on. */
  readonly setTokenFormat: (format: TokenFormat) => Effect.Effect<void>
  /** Revokes every token of a kind issued so far: later use answers 401 `authentication-error`. */
  readonly revokeTokens: (kind?: "access" | "refresh" | "all") => Effect.Effect<void>
  /** The claims of a JWT whose HS256 signature is the fake's; `None` for anything else. */
  readonly verify: (token: string) => Option.Option<Claims>
  /** How many token pairs the fake has issued, by endpoint. */
  readonly issued: Effect.Effect<{ readonly created: number; readonly refreshed: number }>
}

interface Account {
  readonly apiSecret: string
  readonly subject: string
}

interface IssuedToken {
  readonly kind: "access" | "refresh"
  readonly apiKey: string
  readonly expiresAt: number
  readonly signed: boolean
  revoked: boolean
  used: boolean
}

/**
 * Starts a fake.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<FakeIxApi> =>
  Effect.gen(function*() {
    const basePath = options.basePath ?? "/api/v2"
    const key = options.signingKey === undefined
      ? crypto.getRandomValues(new Uint8Array(32))
      : typeof options.signingKey === "string"
      ? new TextEncoder().encode(options.signingKey)
      : options.signingKey
    const singleUseRefresh = options.singleUseRefresh ?? true
    const accounts = new Map<string, Account>()
    for (const entry of options.apiKeys ?? []) {
      accounts.set(entry.apiKey, { apiSecret: entry.apiSecret, subject: entry.subject ?? entry.apiKey })
    }
    const tokens = new Map<string, IssuedToken>()
    const settings = {
      access: Duration.decode(options.accessLifetime ?? Duration.minutes(5)),
      refresh: Duration.decode(options.refreshLifetime ?? Duration.hours(24)),
      format: options.tokenFormat ?? "jwt"
    }
    const counts = { created: 0, refreshed: 0, tokens: 0 }

    const issueOne = (kind: "access" | "refresh", apiKey: string, account: Account, now: number): string => {
      const lifetime = kind === "access" ? settings.access : settings.refresh
      const iat = Math.floor(now / 1000)
      // Whole seconds, as JWT NumericDates are: the fake enforces exactly what the claim says.
      const exp = Math.floor((now + Duration.toMillis(lifetime)) / 1000)
      const jti = `${++counts.tokens}-${Encoding.encodeHex(crypto.getRandomValues(new Uint8Array(8)))}`
      const claims: Claims = {
        iss: "fake-ix-api",
        sub: account.subject,
        iat,
        ...(settings.format === "jwt" ? { exp } : {}),
        jti,
        token_type: kind
      }
      const token = settings.format === "opaque" ? `ixapi-${kind}-${jti}` : signJwt(key, claims)
      tokens.set(token, {
        kind,
        apiKey,
        expiresAt: exp * 1000,
        signed: settings.format !== "opaque",
        revoked: false,
        used: false
      })
      return token
    }

    const issuePair = (apiKey: string, account: Account) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        HttpServerResponse.unsafeJson(
          {
            access_token: issueOne("access", apiKey, account, now),
            refresh_token: issueOne("refresh", apiKey, account, now)
          },
          { status: 201 }
        ))

    const verify = (token: string): Option.Option<Claims> => verifyJwt(key, token)

    /** Why a presented token is not accepted, or the token when it is. */
    const check = (token: string, kind: "access" | "refresh", now: number) => {
      const issued = tokens.get(token)
      const account = issued === undefined ? undefined : accounts.get(issued.apiKey)
      if (issued === undefined || account === undefined || issued.kind !== kind || issued.revoked) {
        return Either.left("invalid" as const)
      }
      if (issued.signed && Option.isNone(verify(token))) return Either.left("invalid" as const)
      if (now >= issued.expiresAt) return Either.left("expired" as const)
      if (kind === "refresh" && singleUseRefresh && issued.used) return Either.left("invalid" as const)
      return Either.right({ issued, account })
    }

    const createToken = Effect.gen(function*() {
      const body = readStrings(yield* jsonBody, ["api_key", "api_secret"])
      if (Either.isLeft(body)) return body.left
      const apiKey = body.right.api_key
      const account = accounts.get(apiKey)
      if (account === undefined || account.apiSecret !== body.right.api_secret) {
        return problem(401, "authentication-error", "Authentication Credentials Invalid", {
          detail: "The API key or secret is not valid."
        })
      }
      counts.created++
      return yield* issuePair(apiKey, account)
    })

    const refreshToken = Effect.gen(function*() {
      const body = readStrings(yield* jsonBody, ["refresh_token"])
      if (Either.isLeft(body)) return body.left
      const now = yield* Clock.currentTimeMillis
      const checked = check(body.right.refresh_token, "refresh", now)
      if (Either.isLeft(checked)) {
        return checked.left === "expired"
          ? problem(401, "signature-expired", "Signature Expired", { detail: "The refresh token has expired." })
          : problem(401, "authentication-error", "Authentication Credentials Invalid", {
            detail: "The refresh token is not valid."
          })
      }
      checked.right.issued.used = true
      counts.refreshed++
      return yield* issuePair(checked.right.issued.apiKey, checked.right.account)
    })

    const listAccounts = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers["authorization"] ?? "")
      if (match === null) {
        return problem(401, "not-authenticated", "Not Authenticated", {
          detail: "Authentication credentials were not provided."
        })
      }
      const now = yield* Clock.currentTimeMillis
      const checked = check(match[1], "access", now)
      if (Either.isLeft(checked)) {
        return checked.left === "expired"
          ? problem(401, "signature-expired", "Signature Expired", { detail: "The access token has expired." })
          : problem(401, "authentication-error", "Authentication Credentials Invalid", {
            detail: "The access token is not valid."
          })
      }
      return HttpServerResponse.unsafeJson([
        { id: "ACC-1", name: checked.right.account.subject, state: "production", managing_account: null }
      ])
    })

    const app = HttpRouter.empty.pipe(
      HttpRouter.post(`${basePath}/auth/token`, createToken),
      HttpRouter.post(`${basePath}/auth/refresh`, refreshToken),
      HttpRouter.get(`${basePath}/accounts`, listAccounts)
    )
    const server = yield* FakeServer.make(app)

    return {
      server,
      basePath,
      addApiKey: (apiKey, apiSecret, addOptions = {}) =>
        Effect.sync(() => {
          accounts.set(apiKey, { apiSecret, subject: addOptions.subject ?? apiKey })
        }),
      removeApiKey: (apiKey) =>
        Effect.sync(() => {
          accounts.delete(apiKey)
        }),
      setLifetimes: (lifetimes) =>
        Effect.sync(() => {
          if (lifetimes.access !== undefined) settings.access = Duration.decode(lifetimes.access)
          if (lifetimes.refresh !== undefined) settings.refresh = Duration.decode(lifetimes.refresh)
        }),
      setTokenFormat: (format) =>
        Effect.sync(() => {
          settings.format = format
        }),
      revokeTokens: (kind = "all") =>
        Effect.sync(() => {
          for (const issued of tokens.values()) {
            if (kind === "all" || issued.kind === kind) issued.revoked = true
          }
        }),
      verify,
      issued: Effect.sync(() => ({ created: counts.created, refreshed: counts.refreshed }))
    }
  })

// -----------------------------------------------------------------------------
// responses
// -----------------------------------------------------------------------------

/**
 * An RFC 7807 problem with an IX-API `type`.
 *
 * @since 0.1.0
 * @category responses
 */
export const problem = (
  status: number,
  name: "validation-error" | "authentication-error" | "signature-expired" | "not-authenticated",
  title: string,
  extra: {
    readonly detail?: string | undefined
    readonly properties?: ReadonlyArray<{ readonly name: string; readonly reason: string }> | undefined
  } = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    { type: `${problemTypePrefix}${name}.html`, title, status, ...extra },
    { status, contentType: "application/problem+json" }
  )

/** The request body as JSON; `undefined` when it is not JSON. */
const jsonBody = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const text = yield* Effect.orElseSucceed(request.text, () => "")
  try {
    const json: unknown = JSON.parse(text)
    return json
  } catch {
    return undefined
  }
})

/** The required string fields of a body, or a 400 naming each one that is missing or invalid. */
const readStrings = <const Name extends string>(
  body: unknown,
  names: ReadonlyArray<Name>
): Either.Either<Record<Name, string>, HttpServerResponse.HttpServerResponse> => {
  if (!Predicate.isRecord(body)) {
    return Either.left(problem(400, "validation-error", "Some fields did not validate.", {
      detail: "The request body must be a JSON object.",
      properties: []
    }))
  }
  const values: Partial<Record<Name, string>> = {}
  const properties: Array<{ readonly name: string; readonly reason: string }> = []
  for (const name of names) {
    const value = body[name]
    if (value === undefined || value === null) properties.push({ name, reason: "This field is required." })
    else if (!Predicate.isString(value)) properties.push({ name, reason: "Not a valid string." })
    else if (value === "") properties.push({ name, reason: "This field may not be blank." })
    else values[name] = value
  }
  return properties.length === 0 && isComplete(values, names)
    ? Either.right(values)
    : Either.left(problem(400, "validation-error", "Some fields did not validate.", { properties }))
}

const isComplete = <Name extends string>(
  values: Partial<Record<Name, string>>,
  names: ReadonlyArray<Name>
): values is Record<Name, string> => names.every((name) => values[name] !== undefined)

// -----------------------------------------------------------------------------
// JWT (HS256), synchronous so that the fake never leaves the calling fiber
// -----------------------------------------------------------------------------

const encoder = new TextEncoder()
const jwtHeader = Encoding.encodeBase64Url(JSON.stringify({ alg: "HS256", typ: "JWT" }))

const signJwt = (key: Uint8Array, claims: Claims): string => {
  const input = `${jwtHeader}.${Encoding.encodeBase64Url(JSON.stringify(claims))}`
  return `${input}.${Encoding.encodeBase64Url(hmacSha256(key, encoder.encode(input)))}`
}

const verifyJwt = (key: Uint8Array, token: string): Option.Option<Claims> => {
  const parts = token.split(".")
  if (parts.length !== 3 || parts[0] !== jwtHeader) return Option.none()
  const expected = hmacSha256(key, encoder.encode(`${parts[0]}.${parts[1]}`))
  const signature = Either.getOrUndefined(Encoding.decodeBase64Url(parts[2]))
  if (signature === undefined || !constantTimeEqual(expected, signature)) return Option.none()
  return Encoding.decodeBase64UrlString(parts[1]).pipe(Either.getRight, Option.flatMap(decodeClaims))
}

const decodeClaims = Schema.decodeUnknownOption(Schema.parseJson(Schema.Struct({
  iss: Schema.String,
  sub: Schema.String,
  iat: Schema.Number,
  exp: Schema.optional(Schema.Number),
  jti: Schema.String,
  token_type: Schema.Literal("access", "refresh")
})))

const constantTimeEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i]
  return difference === 0
}

const hmacSha256 = (key: Uint8Array, message: Uint8Array): Uint8Array => {
  const block = new Uint8Array(64)
  block.set(key.length > 64 ? sha256(key) : key)
  const inner = new Uint8Array(64 + message.length)
  const outer = new Uint8Array(64 + 32)
  for (let i = 0; i < 64; i++) {
    inner[i] = block[i] ^ 0x36
    outer[i] = block[i] ^ 0x5c
  }
  inner.set(message, 64)
  outer.set(sha256(inner), 64)
  return sha256(outer)
}

const roundConstants = Uint32Array.from([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2
])

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n))

/** SHA-256 (FIPS 180-4). */
const sha256 = (data: Uint8Array): Uint8Array => {
  const padded = new Uint8Array(Math.ceil((data.length + 9) / 64) * 64)
  padded.set(data)
  padded[data.length] = 0x80
  const view = new DataView(padded.buffer)
  const bits = data.length * 8
  view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000))
  view.setUint32(padded.length - 4, bits >>> 0)
  const hash = Uint32Array.from([
    0x6a09e667,
    0xbb67ae85,
    0x3c6ef372,
    0xa54ff53a,
    0x510e527f,
    0x9b05688c,
    0x1f83d9ab,
    0x5be0cd19
  ])
  const w = new Uint32Array(64)
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4)
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3)
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10)
      w[i] = w[i - 16] + s0 + w[i - 7] + s1
    }
    let [a, b, c, d, e, f, g, h] = hash
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + roundConstants[i] + w[i]) | 0
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0
      h = g
      g = f
      f = e
      e = (d + t1) | 0
      d = c
      c = b
      b = a
      a = (t1 + t2) | 0
    }
    hash[0] += a
    hash[1] += b
    hash[2] += c
    hash[3] += d
    hash[4] += e
    hash[5] += f
    hash[6] += g
    hash[7] += h
  }
  const out = new Uint8Array(32)
  const outView = new DataView(out.buffer)
  for (let i = 0; i < 8; i++) outView.setUint32(i * 4, hash[i])
  return out
}
