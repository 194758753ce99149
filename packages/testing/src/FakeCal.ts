/**
 * A fake of Cal.com API v2's platform OAuth flow that behaves as the real server does (see
 * PROVIDERS.md section 3), not as its API document says:
 *
 * - `POST /v2/oauth/:clientId/authorize` needs a logged-in user's NextAuth session cookie and
 *   answers **302** with `Location: <redirectUri>?code=<code>`; a user holds at most one
 *   unexchanged code per client (a second authorize is "already authorized", 400);
 * - `POST /v2/oauth/:clientId/exchange` takes the code as `Authorization: Bearer`, spends it, and
 *   answers 200 with tokens in the `{ status: "success", data }` envelope;
 * - `POST /v2/oauth/:clientId/refresh` checks `x-cal-secret-key` in a guard (401), then rotates:
 *   the presented refresh token is deleted, so presenting it again is 400 `Invalid refresh token`;
 * - access tokens live 60 minutes (expiry rounded down to the minute), refresh tokens a year
 *   (rounded down to the day); a protected route, `GET /v2/me`, answers 498
 *   `ACCESS_TOKEN_IS_EXPIRED` for an expired access token and 401 for an unknown one;
 * - every error is Cal.com's envelope `{ status: "error", timestamp, path, error: { code,
 *   message, details } }` with the server's exact messages.
 *
 * Time comes from Effect's `Clock` (so `TestClock` drives expiry) and tokens from a counter plus
 * Effect's `Random`. The fault queue and request log are the kit's (`FakeServer`).
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
import * as FakeServer from "./FakeServer.js"

/**
 * An OAuth client of the platform.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly id: string
  readonly secret: string
  /** The redirect URIs `authorize` accepts (exact match). */
  readonly redirectUris: ReadonlyArray<string>
}

/**
 * A Cal.com user with a logged-in NextAuth session.
 *
 * @since 0.1.0
 * @category models
 */
export interface User {
  readonly id: number
  readonly email: string
  /** The value of the `next-auth.session-token` cookie of the user's session. */
  readonly sessionToken: string
}

/**
 * The tokens the fake issued for one user and client, as the wire carries them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Keys {
  readonly accessToken: string
  readonly refreshToken: string
  readonly accessTokenExpiresAt: number
  readonly refreshTokenExpiresAt: number
}

/**
 * Options of `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default: `[defaultClient]`. */
  readonly clients?: ReadonlyArray<Client> | undefined
  /** Default: `[defaultUser]`. */
  readonly users?: ReadonlyArray<User> | undefined
  /** Default: 60 minutes, as Cal.com. The expiry is rounded down to the minute (see `roundExpiry`). */
  readonly accessTokenLifetime?: Duration.DurationInput | undefined
  /**
   * Whether access-token expiry is rounded down to the start of the minute, as Cal.com does.
   * Turn it off to run with lifetimes of a few seconds (demos), which rounding would swallow.
   * Default: true.
   */
  readonly roundExpiry?: boolean | undefined
  /**
   * Whether token responses carry `refreshTokenExpiresAt`, as current Cal.com does. The seed-era
   * server (Nov 2024) did not send it. Default: true.
   */
  readonly sendRefreshTokenExpiresAt?: boolean | undefined
}

/**
 * A fake Cal.com with its controls.
 *
 * @since 0.1.0
 * @category models
 */
export interface FakeCal {
  /** The server: in-memory client, fault injection, request log. */
  readonly server: FakeServer.FakeServer
  /** The first configured client. */
  readonly client: Client
  /** The first configured user. */
  readonly user: User
  /** The `Cookie` header of a user's logged-in session (default: the first user). */
  readonly cookie: (user?: User) => string
  readonly addClient: (client: Client) => Effect.Effect<void>
  readonly addUser: (user: User) => Effect.Effect<void>
  /** Issues tokens for a user and client directly, as if the user had authorized earlier. */
  readonly issueTokens: (options?: {
    readonly userId?: number | undefined
    readonly clientId?: string | undefined
  }) => Effect.Effect<Keys>
  /** The refresh tokens the server would accept now. */
  readonly refreshTokens: Effect.Effect<ReadonlyArray<string>>
  /** The authorization codes not yet exchanged. */
  readonly codes: Effect.Effect<ReadonlyArray<string>>
  /**
   * Makes every access token issued so far expire now, whatever expiry it was issued with: the
   * server's view when its clock runs ahead of the client's. Protected routes then answer 498.
   */
  readonly expireAccessTokens: Effect.Effect<void>
}

/**
 * The client the fake knows by default.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultClient: Client = {
  id: "clfakeclient0001",
  secret: "fake-cal-client-secret",
  redirectUris: ["https://app.example.com/cal/callback"]
}

/**
 * The user the fake knows by default.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultUser: User = {
  id: 1,
  email: "managed-user@example.com",
  sessionToken: "fake-next-auth-session-1"
}

/**
 * The `Cookie` header of a user's logged-in session.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sessionCookie = (user: User): string => `next-auth.session-token=${user.sessionToken}`

interface Grant {
  readonly clientId: string
  readonly userId: number
}

interface Issued extends Grant {
  readonly expiresAt: number
}

const accessTokenExpiredMessage = "ACCESS_TOKEN_IS_EXPIRED"
const invalidAccessTokenMessage = "Invalid Access Token."
const noAuthenticationMessage =
  "No authentication method provided. Either pass an API key as 'Bearer' header or OAuth client credentials as 'x-cal-secret-key' and 'x-cal-client-id' headers"

const reasonPhrase: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  500: "Internal Server Error"
}

/** The exception NestJS would throw, as Cal.com's `HttpExceptionFilter` renders it. */
interface Exception {
  readonly status: number
  readonly code: string
  readonly message: string
  readonly details: unknown
}

/** `new BadRequestException(message)` and friends: `details` is Nest's default response object. */
const exception = (status: number, code: string, message: string): Exception => ({
  status,
  code,
  message,
  details: { message, error: reasonPhrase[status], statusCode: status }
})

const badRequest = (message: string) => exception(400, "BadRequestException", message)
const unauthorized = (message: string) => exception(401, "UnauthorizedException", message)

/** What `ValidationPipe` with Cal.com's `exceptionFactory` throws for a body field that is not a string. */
const validationFailed = (body: unknown, property: string): Exception => {
  const target = isRecord(body) ? body : {}
  return {
    status: 400,
    code: "BadRequestException",
    message: "Bad Request Exception",
    details: {
      errors: [{
        target,
        ...(target[property] === undefined ? {} : { value: target[property] }),
        property,
        children: [],
        constraints: { isString: `${property} must be a string` }
      }]
    }
  }
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Makes a fake Cal.com.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<FakeCal> =>
  Effect.gen(function*() {
    const clientList = options.clients ?? [defaultClient]
    const userList = options.users ?? [defaultUser]
    const accessLifetime = Duration.toMillis(options.accessTokenLifetime ?? Duration.minutes(60))
    const sendRefreshExpiry = options.sendRefreshTokenExpiresAt ?? true

    const clients = new Map(clientList.map((client) => [client.id, client]))
    const users = new Map(userList.map((user) => [user.id, user]))
    const codes = new Map<string, Grant>()
    const accessTokens = new Map<string, Issued>()
    const refreshTokens = new Map<string, Issued>()
    let counter = 0

    /** A unique, JWT-shaped token (the real ones are JWTs signed with the client secret). */
    const newToken = (kind: "access" | "refresh", grant: Grant, expiresAt: number) =>
      Effect.map(Random.nextInt, (random) => {
        counter++
        const jti = `${counter.toString(36)}${(random >>> 0).toString(36)}`
        const payload = kind === "access"
          ? { clientId: grant.clientId, ownerId: grant.userId, expiresAt, jti }
          : { clientId: grant.clientId, ownerId: grant.userId, userId: grant.userId, expiresAt, jti }
        return [
          Encoding.encodeBase64Url(JSON.stringify({ alg: "HS256", typ: "JWT" })),
          Encoding.encodeBase64Url(JSON.stringify(payload)),
          Encoding.encodeBase64Url(`fake-signature-${kind}-${jti}`)
        ].join(".")
      })

    const issue = (grant: Grant): Effect.Effect<Keys> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        // Cal.com: `now + 60 min` rounded down to the start of the minute, and `now + 1 year`
        // rounded down to the start of the day.
        const accessTokenExpiresAt = options.roundExpiry === false
          ? now + accessLifetime
          : Math.floor((now + accessLifetime) / 60_000) * 60_000
        const refreshTokenExpiresAt = DateTime.toEpochMillis(
          DateTime.startOf(DateTime.add(DateTime.unsafeMake(now), { years: 1 }), "day")
        )
        const accessToken = yield* newToken("access", grant, accessTokenExpiresAt)
        const refreshToken = yield* newToken("refresh", grant, refreshTokenExpiresAt)
        accessTokens.set(accessToken, { ...grant, expiresAt: accessTokenExpiresAt })
        refreshTokens.set(refreshToken, { ...grant, expiresAt: refreshTokenExpiresAt })
        return { accessToken, refreshToken, accessTokenExpiresAt, refreshTokenExpiresAt }
      })

    const keysResponse = (keys: Keys) =>
      HttpServerResponse.unsafeJson({
        status: "success",
        data: {
          accessToken: keys.accessToken,
          refreshToken: keys.refreshToken,
          accessTokenExpiresAt: keys.accessTokenExpiresAt,
          ...(sendRefreshExpiry ? { refreshTokenExpiresAt: keys.refreshTokenExpiresAt } : {})
        }
      })

    const errorResponse = (error: Exception) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const now = yield* Clock.currentTimeMillis
        return HttpServerResponse.unsafeJson({
          status: "error",
          timestamp: DateTime.formatIso(DateTime.unsafeMake(now)),
          path: request.url,
          error: { code: error.code, message: error.message, details: error.details }
        }, { status: error.status })
      })

    /** The JSON body, or the 400 Express's body parser answers for one that is not JSON. */
    const jsonBody = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const text = yield* Effect.orElseSucceed(request.text, () => "")
      if (text.trim() === "") return { ok: true as const, body: {} }
      try {
        return { ok: true as const, body: JSON.parse(text) as unknown }
      } catch (cause) {
        return { ok: false as const, error: badRequest(cause instanceof Error ? cause.message : "Invalid JSON") }
      }
    })

    const stringField = (body: unknown, property: string): string | undefined =>
      isRecord(body) && typeof body[property] === "string" ? body[property] : undefined

    const clientIdParam = Effect.map(HttpRouter.params, (params) => params.clientId ?? "")

    const authorize = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const clientId = yield* clientIdParam
      // NextAuthGuard runs first: without a logged-in session nothing else is looked at.
      const sessionToken = request.cookies["next-auth.session-token"] ??
        request.cookies["__Secure-next-auth.session-token"]
      const user = [...users.values()].find((candidate) => candidate.sessionToken === sessionToken)
      if (sessionToken === undefined || user === undefined) {
        return yield* errorResponse(unauthorized("Authentication token is missing or invalid."))
      }
      const parsed = yield* jsonBody
      if (!parsed.ok) return yield* errorResponse(parsed.error)
      const redirectUri = stringField(parsed.body, "redirectUri")
      if (redirectUri === undefined) return yield* errorResponse(validationFailed(parsed.body, "redirectUri"))
      const client = clients.get(clientId)
      if (client === undefined) return yield* errorResponse(badRequest(`OAuth client with ID '${clientId}' not found`))
      if (!client.redirectUris.includes(redirectUri)) {
        return yield* errorResponse(badRequest("Invalid 'redirect_uri' value."))
      }
      const outstanding = [...codes.values()].some((grant) => grant.clientId === clientId && grant.userId === user.id)
      if (outstanding) {
        return yield* errorResponse(
          badRequest(`User with id=${user.id} has already authorized client with id=${clientId}.`)
        )
      }
      const random = yield* Random.nextInt
      counter++
      const code = `cm${counter.toString(36)}${(random >>> 0).toString(36)}`
      codes.set(code, { clientId, userId: user.id })
      // Express's `res.redirect`: 302, the target in `Location`, a short text body.
      const location = `${redirectUri}?code=${code}`
      return HttpServerResponse.text(`Found. Redirecting to ${location}`, {
        status: 302,
        headers: { location }
      })
    })

    const exchange = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const clientId = yield* clientIdParam
      const parsed = yield* jsonBody
      if (!parsed.ok) return yield* errorResponse(parsed.error)
      const clientSecret = stringField(parsed.body, "clientSecret")
      if (clientSecret === undefined) return yield* errorResponse(validationFailed(parsed.body, "clientSecret"))
      const authorization = request.headers["authorization"]
      // Cal.com calls `authorization.replace(...)` on the absent header: a TypeError, hence 500.
      if (authorization === undefined) {
        return yield* errorResponse({
          status: 500,
          code: "TypeError",
          message: "Cannot read properties of undefined (reading 'replace')",
          details: undefined
        })
      }
      const code = authorization.replace("Bearer ", "").trim()
      if (code === "") return yield* errorResponse(badRequest("Missing 'Bearer' Authorization header."))
      const client = clients.get(clientId)
      if (client === undefined || client.secret !== clientSecret) {
        return yield* errorResponse(badRequest("Invalid OAuth Client."))
      }
      const grant = codes.get(code)
      if (grant === undefined || grant.clientId !== clientId || !users.has(grant.userId)) {
        return yield* errorResponse(badRequest("Invalid Authorization Token."))
      }
      const keys = yield* issue(grant)
      codes.delete(code)
      return keysResponse(keys)
    })

    const refresh = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const clientId = yield* clientIdParam
      // ApiAuthGuard runs before the body is validated.
      const secret = request.headers["x-cal-secret-key"]
      if (secret === undefined) return yield* errorResponse(unauthorized(noAuthenticationMessage))
      const client = clients.get(clientId)
      if (client === undefined) return yield* errorResponse(unauthorized(`Client with ID ${clientId} not found`))
      if (client.secret !== secret) return yield* errorResponse(unauthorized("Invalid client secret"))
      const parsed = yield* jsonBody
      if (!parsed.ok) return yield* errorResponse(parsed.error)
      const refreshToken = stringField(parsed.body, "refreshToken")
      if (refreshToken === undefined) return yield* errorResponse(validationFailed(parsed.body, "refreshToken"))
      // Seed-era Cal.com looks the token up without checking its expiry.
      const grant = refreshTokens.get(refreshToken)
      if (grant === undefined || grant.clientId !== clientId) {
        return yield* errorResponse(badRequest("Invalid refresh token"))
      }
      // Rotation: the presented refresh token and the client's expired access tokens are deleted;
      // access tokens still valid are left alone.
      const now = yield* Clock.currentTimeMillis
      refreshTokens.delete(refreshToken)
      for (const [token, issued] of accessTokens) {
        if (issued.clientId === clientId && now > issued.expiresAt) accessTokens.delete(token)
      }
      return keysResponse(yield* issue(grant))
    })

    const me = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const authorization = request.headers["authorization"]
      const token = authorization?.replace("Bearer ", "")
      if (token === undefined || token === "") return yield* errorResponse(unauthorized(noAuthenticationMessage))
      const issued = accessTokens.get(token)
      if (issued === undefined) return yield* errorResponse(unauthorized(invalidAccessTokenMessage))
      const now = yield* Clock.currentTimeMillis
      if (now > issued.expiresAt) {
        return yield* errorResponse({
          status: 498,
          code: "TokenExpiredException",
          message: accessTokenExpiredMessage,
          details: accessTokenExpiredMessage
        })
      }
      const user = users.get(issued.userId)
      return HttpServerResponse.unsafeJson({
        status: "success",
        data: {
          id: issued.userId,
          email: user?.email ?? "",
          timeZone: "Europe/London",
          weekStart: "Monday",
          timeFormat: 24
        }
      })
    })

    const router = HttpRouter.empty.pipe(
      HttpRouter.post("/v2/oauth/:clientId/authorize", authorize),
      HttpRouter.post("/v2/oauth/:clientId/exchange", exchange),
      HttpRouter.post("/v2/oauth/:clientId/refresh", refresh),
      HttpRouter.get("/v2/me", me)
    )

    const server = yield* FakeServer.make(router)

    return {
      server,
      client: clientList[0] ?? defaultClient,
      user: userList[0] ?? defaultUser,
      cookie: (user) => sessionCookie(user ?? userList[0] ?? defaultUser),
      addClient: (client) => Effect.sync(() => void clients.set(client.id, client)),
      addUser: (user) => Effect.sync(() => void users.set(user.id, user)),
      issueTokens: (grant = {}) =>
        issue({
          clientId: grant.clientId ?? (clientList[0] ?? defaultClient).id,
          userId: grant.userId ?? (userList[0] ?? defaultUser).id
        }),
      refreshTokens: Effect.sync(() => [...refreshTokens.keys()]),
      codes: Effect.sync(() => [...codes.keys()]),
      expireAccessTokens: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          for (const [token, issued] of accessTokens) accessTokens.set(token, { ...issued, expiresAt: now - 1 })
        }))
    }
  })
