/**
 * A fake of EnduroSat's ground-station authentication API, which fronts AWS Cognito, with the
 * behaviour PROVIDERS.md (section 4) describes:
 *
 * - `POST /oauth2/token`, form-encoded, `client_id` plus `grant_type=password` (`username`,
 *   `password`) or `grant_type=refresh_token` (`refresh_token`). A password grant yields access,
 *   id and refresh tokens; a refresh grant yields access and id tokens but no refresh token:
 *   Cognito does not rotate, the original stays valid until its own expiry.
 * - `POST /oauth2/revoke`, form-encoded, `client_id` and `token`: revokes a refresh token and
 *   every access token issued from it; 204 even for a token it does not know.
 * - `GET /satellite-passes`, a protected route that wants `Authorization: Bearer <access token>`
 *   and answers 401 once that token has expired or was revoked.
 * - 401 bodies are Cognito's `{ "error": "..." }`; malformed requests get an untyped 400 body
 *   shaped like Spring Boot's (`timestamp`, `status`, `error`, `message`, `path`); a body that is
 *   not form-encoded gets 415.
 *
 * Token lifetimes default to Cognito's: 3600 seconds for access and id tokens, 30 days for
 * refresh tokens. Time comes from Effect's `Clock`, so `TestClock` drives expiry.
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as FakeServer from "./FakeServer.js"

/**
 * The app client id the fake knows unless told otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultClientId = "fake-endurosat-app-client"

/**
 * The user the fake knows unless told otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultUser: User = { username: "operator@example.com", password: "ground-station-password" }

/**
 * The protected route: `GET` it with `Authorization: Bearer <access token>`.
 *
 * @since 0.1.0
 * @category constants
 */
export const protectedPath = "/satellite-passes"

/**
 * A user of the Cognito user pool.
 *
 * @since 0.1.0
 * @category models
 */
export interface User {
  readonly username: string
  readonly password: string
}

/**
 * How to build the fake.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The app client ids the user pool accepts. Default: `[defaultClientId]`. */
  readonly clientIds?: ReadonlyArray<string> | undefined
  /** The users. Default: `[defaultUser]`. */
  readonly users?: ReadonlyArray<User> | undefined
  /** The lifetime of access and id tokens. Default: 3600 seconds. */
  readonly accessTokenLifetime?: Duration.DurationInput | undefined
  /** The lifetime of refresh tokens, counted from the password grant. Default: 30 days. */
  readonly refreshTokenLifetime?: Duration.DurationInput | undefined
}

/**
 * A running fake: the server (in-memory client, fault injection, request log) and its controls.
 *
 * @since 0.1.0
 * @category models
 */
export interface FakeEnduroSat {
  readonly server: FakeServer.FakeServer
  /** The first app client id the fake accepts. */
  readonly clientId: string
  /** Adds a user, or changes the password of an existing one. */
  readonly addUser: (user: User) => Effect.Effect<void>
  /** Deletes a user: logins fail, and so do refreshes of the tokens issued to it. */
  readonly removeUser: (username: string) => Effect.Effect<void>
  /** Accepts another app client id. */
  readonly addClient: (clientId: string) => Effect.Effect<void>
  /**
   * Revokes every refresh token of a user, and the access tokens issued from them, as Cognito's
   * `AdminUserGlobalSignOut` does.
   */
  readonly signOut: (username: string) => Effect.Effect<void>
}

interface RefreshRecord {
  readonly clientId: string
  readonly username: string
  readonly expiresAt: number
  readonly revoked: boolean
}

interface AccessRecord {
  readonly clientId: string
  readonly username: string
  readonly expiresAt: number
  /** The refresh token this access token descends from: revoking it revokes this one. */
  readonly refreshToken: string
}

const formContentType = "application/x-www-form-urlencoded"

/**
 * Starts a fake.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<FakeEnduroSat> =>
  Effect.gen(function*() {
    const clientIds = options.clientIds ?? [defaultClientId]
    const accessLifetime = Duration.toMillis(Duration.decode(options.accessTokenLifetime ?? Duration.seconds(3600)))
    const refreshLifetime = Duration.toMillis(Duration.decode(options.refreshTokenLifetime ?? Duration.days(30)))
    const clients = yield* Ref.make<ReadonlySet<string>>(new Set(clientIds))
    const users = yield* Ref.make<ReadonlyMap<string, string>>(
      new Map((options.users ?? [defaultUser]).map((user) => [user.username, user.password]))
    )
    const refreshTokens = yield* Ref.make<ReadonlyMap<string, RefreshRecord>>(new Map())
    const accessTokens = yield* Ref.make<ReadonlyMap<string, AccessRecord>>(new Map())
    const counter = yield* Ref.make(0)

    // -------------------------------------------------------------------------
    // tokens
    // -------------------------------------------------------------------------

    const nonce = Effect.gen(function*() {
      const n = yield* Ref.updateAndGet(counter, (n) => n + 1)
      const random = yield* Random.nextIntBetween(0, 0x7fffffff)
      return `${n.toString(36)}${random.toString(36)}`
    })

    /** A JWT shaped like Cognito's (unsigned: nobody but this fake verifies it). */
    const jwt = (claims: Record<string, unknown>) =>
      Effect.map(nonce, (jti) => {
        const header = Encoding.encodeBase64Url(JSON.stringify({ alg: "RS256", kid: "fake-endurosat" }))
        const payload = Encoding.encodeBase64Url(JSON.stringify({ ...claims, jti }))
        return `${header}.${payload}.${Encoding.encodeBase64Url(`fake-signature-${jti}`)}`
      })

    /** Issues an access token and an id token descending from `refreshToken`. */
    const issueAccess = (record: { readonly clientId: string; readonly username: string }, refreshToken: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const expiresAt = now + accessLifetime
        const times = { iat: Math.floor(now / 1000), exp: Math.floor(expiresAt / 1000) }
        const accessToken = yield* jwt({
          sub: record.username,
          username: record.username,
          client_id: record.clientId,
          token_use: "access",
          ...times
        })
        const idToken = yield* jwt({
          sub: record.username,
          "cognito:username": record.username,
          aud: record.clientId,
          token_use: "id",
          ...times
        })
        yield* Ref.update(accessTokens, (map) =>
          new Map(map).set(accessToken, {
            clientId: record.clientId,
            username: record.username,
            expiresAt,
            refreshToken
          }))
        return {
          access_token: accessToken,
          expires_in: Math.round(accessLifetime / 1000),
          token_type: "Bearer",
          id_token: idToken
        }
      })

    // -------------------------------------------------------------------------
    // responses
    // -------------------------------------------------------------------------

    /** Spring Boot's default error body: what the API answers for a malformed request. */
    const springError = (status: number, error: string, message: string) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const now = yield* Clock.currentTimeMillis
        return HttpServerResponse.unsafeJson({
          timestamp: DateTime.formatIso(DateTime.unsafeMake(now)),
          status,
          error,
          message,
          path: new URL(request.url, "http://fake.invalid").pathname
        }, { status })
      })

    const badRequest = (message: string) => springError(400, "Bad Request", message)

    /** Cognito's refusal, passed through as 401 `{ "error": ... }`. */
    const notAuthorized = (error: string) => Effect.succeed(HttpServerResponse.unsafeJson({ error }, { status: 401 }))

    /** The form fields, or the response refusing a body that is not form-encoded. */
    const readForm = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const contentType = request.headers["content-type"] ?? ""
      if (!contentType.toLowerCase().startsWith(formContentType)) {
        return {
          _tag: "Refused",
          response: yield* springError(
            415,
            "Unsupported Media Type",
            `Content-Type '${contentType}' is not supported`
          )
        } as const
      }
      const text = yield* Effect.orElseSucceed(request.text, () => "")
      const params = new URLSearchParams(text)
      /** A field, with an empty value read as absent (Spring binds `username=` to nothing). */
      const field = (name: string): string | undefined => {
        const value = params.get(name)
        return value === null || value === "" ? undefined : value
      }
      return { _tag: "Form", field } as const
    })

    const isKnownClient = (clientId: string) => Effect.map(Ref.get(clients), (known) => known.has(clientId))
    const missing = (name: string) => badRequest(`Required parameter '${name}' is not present.`)
    const unknownClient = (clientId: string) => badRequest(`User pool client ${clientId} does not exist.`)

    // -------------------------------------------------------------------------
    // routes
    // -------------------------------------------------------------------------

    const passwordGrant = (clientId: string, username: string | undefined, password: string | undefined) =>
      Effect.gen(function*() {
        if (username === undefined || password === undefined) {
          return yield* badRequest("Parameters 'username' and 'password' are required for grant_type=password.")
        }
        const expected = (yield* Ref.get(users)).get(username)
        if (expected === undefined || expected !== password) {
          return yield* notAuthorized("Incorrect username or password.")
        }
        const now = yield* Clock.currentTimeMillis
        const refreshToken = `eyJjdHkiOiJKV1QifQ.${yield* nonce}.${yield* nonce}`
        yield* Ref.update(refreshTokens, (map) =>
          new Map(map).set(refreshToken, { clientId, username, expiresAt: now + refreshLifetime, revoked: false }))
        const issued = yield* issueAccess({ clientId, username }, refreshToken)
        return HttpServerResponse.unsafeJson({ ...issued, refresh_token: refreshToken })
      })

    const refreshGrant = (clientId: string, refreshToken: string | undefined) =>
      Effect.gen(function*() {
        if (refreshToken === undefined) {
          return yield* badRequest("Parameter 'refresh_token' is required for grant_type=refresh_token.")
        }
        const record = (yield* Ref.get(refreshTokens)).get(refreshToken)
        if (record === undefined || record.clientId !== clientId) {
          return yield* notAuthorized("Invalid Refresh Token")
        }
        if (record.revoked) {
          return yield* notAuthorized("Refresh Token has been revoked")
        }
        const now = yield* Clock.currentTimeMillis
        if (now >= record.expiresAt) {
          return yield* notAuthorized("Refresh Token has expired")
        }
        if (!(yield* Ref.get(users)).has(record.username)) {
          return yield* notAuthorized("User does not exist.")
        }
        // No `refresh_token` in the answer: Cognito's REFRESH_TOKEN_AUTH does not rotate.
        return HttpServerResponse.unsafeJson(yield* issueAccess(record, refreshToken))
      })

    /** Both endpoints first read the form and check `client_id`, answering as Cognito does. */
    const clientForm = Effect.gen(function*() {
      const form = yield* readForm
      if (form._tag === "Refused") {
        return form
      }
      const clientId = form.field("client_id")
      if (clientId === undefined) {
        return { _tag: "Refused" as const, response: yield* missing("client_id") }
      }
      if (!(yield* isKnownClient(clientId))) {
        return { _tag: "Refused" as const, response: yield* unknownClient(clientId) }
      }
      return { ...form, clientId }
    })

    const token = Effect.gen(function*() {
      const form = yield* clientForm
      if (form._tag === "Refused") {
        return form.response
      }
      const { clientId } = form
      const grantType = form.field("grant_type")
      switch (grantType) {
        case undefined:
          return yield* missing("grant_type")
        case "password":
          return yield* passwordGrant(clientId, form.field("username"), form.field("password"))
        case "refresh_token":
          return yield* refreshGrant(clientId, form.field("refresh_token"))
        default:
          return yield* badRequest(`Unsupported grant_type '${grantType}'.`)
      }
    })

    const revoke = Effect.gen(function*() {
      const form = yield* clientForm
      if (form._tag === "Refused") {
        return form.response
      }
      const { clientId } = form
      const value = form.field("token")
      if (value === undefined) {
        return yield* missing("token")
      }
      if ((yield* Ref.get(accessTokens)).has(value)) {
        // Cognito's RevokeToken takes refresh tokens only (UnsupportedTokenTypeException).
        return yield* badRequest("Only refresh tokens can be revoked.")
      }
      const record = (yield* Ref.get(refreshTokens)).get(value)
      if (record !== undefined && record.clientId !== clientId) {
        return yield* badRequest("The token was not issued to this app client.")
      }
      if (record !== undefined) {
        yield* Ref.update(refreshTokens, (map) =>
          new Map(map).set(value, { ...record, revoked: true }))
      }
      // Idempotent: an unknown or already revoked token is answered like a fresh revocation.
      return HttpServerResponse.empty({ status: 204 })
    })

    const satellitePasses = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const unauthorized = (error: string) =>
        HttpServerResponse.unsafeJson({ error }, {
          status: 401,
          headers: { "www-authenticate": `Bearer error="invalid_token", error_description="${error}"` }
        })
      const match = /^Bearer (.+)$/i.exec(request.headers["authorization"] ?? "")
      if (match === null) {
        return HttpServerResponse.unsafeJson({ error: "Full authentication is required to access this resource" }, {
          status: 401,
          headers: { "www-authenticate": "Bearer" }
        })
      }
      const record = (yield* Ref.get(accessTokens)).get(match[1])
      if (record === undefined) {
        return unauthorized("Invalid access token")
      }
      const parent = (yield* Ref.get(refreshTokens)).get(record.refreshToken)
      if (parent === undefined || parent.revoked) {
        return unauthorized("Access token has been revoked")
      }
      const now = yield* Clock.currentTimeMillis
      if (now >= record.expiresAt) {
        return unauthorized("Access token has expired")
      }
      const at = (offset: Duration.DurationInput) =>
        DateTime.formatIso(DateTime.unsafeMake(now + Duration.toMillis(Duration.decode(offset))))
      return HttpServerResponse.unsafeJson([
        { id: "pass-1", satellite: "ES-SAT-1", groundStation: "GS-SOFIA", aos: at("1 hour"), los: at("70 minutes") },
        { id: "pass-2", satellite: "ES-SAT-1", groundStation: "GS-SOFIA", aos: at("3 hours"), los: at("190 minutes") }
      ])
    })

    const server = yield* FakeServer.make(HttpRouter.empty.pipe(
      HttpRouter.post("/oauth2/token", token),
      HttpRouter.post("/oauth2/revoke", revoke),
      HttpRouter.get(protectedPath, satellitePasses)
    ))

    return {
      server,
      clientId: clientIds[0] ?? defaultClientId,
      addUser: (user) =>
        Ref.update(users, (map) => new Map(map).set(user.username, user.password)),
      removeUser: (username) =>
        Ref.update(users, (map) => {
          const next = new Map(map)
          next.delete(username)
          return next
        }),
      addClient: (clientId) => Ref.update(clients, (set) => new Set(set).add(clientId)),
      signOut: (username) =>
        Ref.update(refreshTokens, (map) =>
          new Map(
            [...map].map(([key, record]) => [key, record.username === username ? { ...record, revoked: true } : record])
          ))
    }
  })
