/**
 * A fake Occam AI token API: the FastAPI server `PROVIDERS.md` describes, as an `HttpApp` with the
 * kit's fault queue and request log.
 *
 * - `POST /auth/access-token` (OAuth2 password form) answers an access and refresh token pair,
 *   400 `{"detail":"Invalid email or password"}`, or a FastAPI 422 for missing fields or a
 *   `grant_type` other than `password`;
 * - `GET /auth/access-token?key=` answers an access token alone, 400 for an unknown key, or 422;
 * - `POST /auth/refresh-token` (JSON) rotates: each refresh token works once; a used or expired one
 *   gets 400 `{"detail":"Refresh token expired or is already used"}`, an unknown one 404
 *   `{"detail":"Refresh token does not exist"}`;
 * - `GET /me` stands for every protected endpoint: 401 `{"detail":"Token expired"}` once the access
 *   token has expired, 401 for an unknown token or none.
 *
 * Time comes from Effect's `Clock` (so `TestClock` expires tokens) and token randomness from
 * Effect's `Random`. `expires_at` is sent in seconds, as a FastAPI server most likely does, or in
 * milliseconds when asked.
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as FakeServer from "./FakeServer.js"

/**
 * The protected route: `GET /me` answers `{"subject": ...}` for a valid access token.
 *
 * @since 0.1.0
 * @category constants
 */
export const protectedPath = "/me"

/**
 * The `detail` messages the fake answers with.
 *
 * @since 0.1.0
 * @category constants
 */
export const messages = {
  invalidCredentials: "Invalid email or password",
  /** The spec copies the login text for this 400; the fake says what it means. */
  invalidApiKey: "Invalid API key",
  refreshTokenExpired: "Refresh token expired or is already used",
  refreshTokenNotFound: "Refresh token does not exist",
  tokenExpired: "Token expired",
  notAuthenticated: "Not authenticated",
  invalidToken: "Could not validate credentials"
} as const

/**
 * How the fake starts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly accounts?: ReadonlyArray<{ readonly username: string; readonly password: string }> | undefined
  readonly apiKeys?: ReadonlyArray<string> | undefined
  /** Default: 15 minutes. */
  readonly accessTokenLifetime?: Duration.DurationInput | undefined
  /** Default: 7 days. */
  readonly refreshTokenLifetime?: Duration.DurationInput | undefined
  /** The unit of `expires_at` and `refresh_token_expires_at`. Default: `"seconds"`. */
  readonly expiresAtUnit?: "seconds" | "milliseconds" | undefined
}

/**
 * A running fake and its controls.
 *
 * @since 0.1.0
 * @category models
 */
export interface FakeOccam {
  /** The fake as a `FakeServer`: its in-memory client, faults and request log. */
  readonly server: FakeServer.FakeServer
  /** Adds (or replaces the password of) an account. */
  readonly addAccount: (username: string, password: string) => Effect.Effect<void>
  /** Accepts an API key from now on. */
  readonly addApiKey: (key: string) => Effect.Effect<void>
  /** Rejects an API key from now on; tokens already issued for it stay valid until they expire. */
  readonly removeApiKey: (key: string) => Effect.Effect<void>
  /** Changes the lifetimes of tokens issued from now on. */
  readonly setLifetimes: (lifetimes: {
    readonly accessToken?: Duration.DurationInput | undefined
    readonly refreshToken?: Duration.DurationInput | undefined
  }) => Effect.Effect<void>
  /** Expires every access token issued so far, as if its lifetime had ended. */
  readonly expireAccessTokens: Effect.Effect<void>
  /** Forgets every refresh token issued so far: presenting one then gets 404. */
  readonly forgetRefreshTokens: Effect.Effect<void>
  /** How many tokens the fake has issued since it started. */
  readonly issued: Effect.Effect<{ readonly accessTokens: number; readonly refreshTokens: number }>
}

interface AccessToken {
  readonly subject: string
  expiresAt: number
}

interface RefreshToken {
  readonly subject: string
  readonly expiresAt: number
  used: boolean
}

/** A FastAPI 422 entry, pydantic 1 style. */
interface ValidationIssue {
  readonly loc: ReadonlyArray<string | number>
  readonly msg: string
  readonly type: string
  readonly ctx?: Readonly<Record<string, string>>
}

const missing = (...loc: ReadonlyArray<string>): ValidationIssue => ({
  loc,
  msg: "field required",
  type: "value_error.missing"
})

const detail = (status: number, message: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ detail: message }, { status, headers })

const unprocessable = (issues: ReadonlyArray<ValidationIssue>) =>
  HttpServerResponse.unsafeJson({ detail: issues }, { status: 422 })

const isForm = (contentType: string | undefined): boolean =>
  contentType !== undefined && contentType.toLowerCase().startsWith("application/x-www-form-urlencoded")

/** A form field as FastAPI reads a required `Form(...)`: an empty value counts as missing. */
const formField = (form: URLSearchParams, name: string): string | undefined => {
  const value = form.get(name)
  return value === null || value === "" ? undefined : value
}

const bearer = (authorization: string | undefined): string | undefined => {
  const match = authorization === undefined ? null : /^bearer\s+(\S+)\s*$/i.exec(authorization)
  return match === null ? undefined : match[1]
}

/**
 * Starts a fake Occam server.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<FakeOccam> =>
  Effect.gen(function*() {
    const accounts = new Map((options.accounts ?? []).map((account) => [account.username, account.password]))
    const apiKeys = new Set(options.apiKeys ?? [])
    const accessTokens = new Map<string, AccessToken>()
    const refreshTokens = new Map<string, RefreshToken>()
    const lifetimes = {
      access: Duration.decode(options.accessTokenLifetime ?? Duration.minutes(15)),
      refresh: Duration.decode(options.refreshTokenLifetime ?? Duration.days(7))
    }
    const wireTime = (millis: number) => options.expiresAtUnit === "milliseconds" ? millis : Math.floor(millis / 1000)
    let counter = 0
    const issued = { accessTokens: 0, refreshTokens: 0 }

    const newToken = (prefix: string) =>
      Effect.map(
        Effect.all([Random.nextIntBetween(0, 0x7fffffff), Random.nextIntBetween(0, 0x7fffffff)]),
        ([a, b]) => `${prefix}${++counter}.${a.toString(16)}${b.toString(16)}`
      )

    /** Issues an access token, and a refresh token unless it answers an API key. */
    const issue = (subject: string, withRefresh: boolean) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const accessToken = yield* newToken("occam-at-")
        const accessExpiresAt = now + Duration.toMillis(lifetimes.access)
        accessTokens.set(accessToken, { subject, expiresAt: accessExpiresAt })
        issued.accessTokens++
        const body: Record<string, string | number> = {
          access_token: accessToken,
          token_type: "bearer",
          expires_at: wireTime(accessExpiresAt)
        }
        if (withRefresh) {
          const refreshToken = yield* newToken("occam-rt-")
          const refreshExpiresAt = now + Duration.toMillis(lifetimes.refresh)
          refreshTokens.set(refreshToken, { subject, expiresAt: refreshExpiresAt, used: false })
          issued.refreshTokens++
          body.refresh_token = refreshToken
          body.refresh_token_expires_at = wireTime(refreshExpiresAt)
        }
        return HttpServerResponse.unsafeJson(body)
      })

    const login = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const text = yield* Effect.orElseSucceed(request.text, () => "")
      // FastAPI parses a form only when the request says it is one.
      const form = new URLSearchParams(isForm(request.headers["content-type"]) ? text : "")
      const username = formField(form, "username")
      const password = formField(form, "password")
      const grantType = form.get("grant_type")
      const issues: Array<ValidationIssue> = []
      if (grantType !== null && grantType !== "password") {
        issues.push({
          loc: ["body", "grant_type"],
          msg: "string does not match regex \"password\"",
          type: "value_error.str.regex",
          ctx: { pattern: "password" }
        })
      }
      if (username === undefined) issues.push(missing("body", "username"))
      if (password === undefined) issues.push(missing("body", "password"))
      if (issues.length > 0 || username === undefined) return unprocessable(issues)
      if (accounts.get(username) !== password) return detail(400, messages.invalidCredentials)
      return yield* issue(username, true)
    })

    const tokenFromKey = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const key = new URL(request.url, "http://fake.invalid").searchParams.get("key")
      if (key === null) return unprocessable([missing("query", "key")])
      if (!apiKeys.has(key)) return detail(400, messages.invalidApiKey)
      return yield* issue("api-key", false)
    })

    const refresh = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const text = yield* Effect.orElseSucceed(request.text, () => "")
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        return unprocessable([{
          loc: ["body", 0],
          msg: "Expecting value: line 1 column 1 (char 0)",
          type: "value_error.jsondecode"
        }])
      }
      const value = typeof json === "object" && json !== null && "refresh_token" in json
        ? json.refresh_token
        : undefined
      if (value === undefined || value === null) return unprocessable([missing("body", "refresh_token")])
      if (typeof value !== "string") {
        return unprocessable([{ loc: ["body", "refresh_token"], msg: "str type expected", type: "type_error.str" }])
      }
      const now = yield* Clock.currentTimeMillis
      const stored = refreshTokens.get(value)
      if (stored === undefined) return detail(404, messages.refreshTokenNotFound)
      if (stored.used || stored.expiresAt <= now) return detail(400, messages.refreshTokenExpired)
      stored.used = true
      return yield* issue(stored.subject, true)
    })

    const me = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const token = bearer(request.headers["authorization"])
      const challenge = { "www-authenticate": "Bearer" }
      if (token === undefined) return detail(401, messages.notAuthenticated, challenge)
      const stored = accessTokens.get(token)
      if (stored === undefined) return detail(401, messages.invalidToken, challenge)
      const now = yield* Clock.currentTimeMillis
      if (stored.expiresAt <= now) return detail(401, messages.tokenExpired, challenge)
      return HttpServerResponse.unsafeJson({ subject: stored.subject })
    })

    const router = HttpRouter.empty.pipe(
      HttpRouter.post("/auth/access-token", login),
      HttpRouter.get("/auth/access-token", tokenFromKey),
      HttpRouter.post("/auth/refresh-token", refresh),
      HttpRouter.get(protectedPath, me)
    )
    const server = yield* FakeServer.make(router)

    return {
      server,
      addAccount: (username, password) => Effect.sync(() => void accounts.set(username, password)),
      addApiKey: (key) => Effect.sync(() => void apiKeys.add(key)),
      removeApiKey: (key) => Effect.sync(() => void apiKeys.delete(key)),
      setLifetimes: (next) =>
        Effect.sync(() => {
          if (next.accessToken !== undefined) lifetimes.access = Duration.decode(next.accessToken)
          if (next.refreshToken !== undefined) lifetimes.refresh = Duration.decode(next.refreshToken)
        }),
      expireAccessTokens: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          for (const token of accessTokens.values()) token.expiresAt = Math.min(token.expiresAt, now)
        })),
      forgetRefreshTokens: Effect.sync(() => refreshTokens.clear()),
      issued: Effect.sync(() => ({ ...issued }))
    }
  })
