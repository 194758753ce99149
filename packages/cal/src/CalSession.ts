/**
 * A self-refreshing session for one Cal.com managed user, and an `HttpClient` for the rest of
 * Cal.com's API that authenticates with it.
 *
 * The session starts from a refresh token (such as `CAL_REFRESH_TOKEN`) or from an authorization
 * code, which it exchanges once, as its first login. Cal.com rotates refresh tokens: each refresh
 * deletes the token it presented, so the session writes every new refresh token to the
 * `TokenStore` before handing out the new access token, and a session rebuilt over the same store
 * resumes from the newest token instead of the (dead) one it was configured with. When a refresh
 * token is rejected and no other instance left a newer one in the store, the session has nothing
 * left to log in with and fails with `ReauthenticationRequired`: the user must authorize again.
 *
 * The authenticated client adds `Authorization: Bearer`, and treats both 401 and Cal.com's 498
 * (`ACCESS_TOKEN_IS_EXPIRED`) as "this token is stale": it refreshes once and retries once.
 *
 * @since 0.1.0
 */
import type * as AuthError from "@effect-auth/core/AuthError"
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as SessionClient from "@effect-auth/core/SessionClient"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as TokenStore from "@effect-auth/core/TokenStore"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type * as CalError from "./CalError.js"
import * as CalOAuth from "./CalOAuth.js"

/**
 * What the session's login and refresh can fail with. `ReauthenticationRequired` is among them:
 * a session started from a code fails with it when asked to log in a second time.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionError =
  | CalError.ExchangeRejected
  | CalError.InvalidRefreshToken
  | CalError.InvalidClientSecret
  | AuthError.AuthError
  | AuthSession.ReauthenticationRequired

/**
 * The service: the session, and an `HttpClient` bound to Cal.com's base URL that authenticates
 * every request with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly session: AuthSession.AuthSession<SessionError>
  readonly client: HttpClient.HttpClient.With<
    HttpClientError.HttpClientError | SessionError | AuthSession.SessionClosed
  >
}

/**
 * A managed user's Cal.com session.
 *
 * @since 0.1.0
 * @category tags
 */
export class CalSession extends Context.Tag("@effect-auth/cal/CalSession")<CalSession, Service>() {}

/**
 * What a session starts from when the store holds nothing for it yet: a refresh token, or an
 * authorization code from `CalOAuth.authorize` (exchanged once, as the first login).
 *
 * @since 0.1.0
 * @category models
 */
export type Credentials =
  | { readonly refreshToken: Redacted.Redacted<string> }
  | { readonly code: Redacted.Redacted<string> }

/**
 * Options of `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Absent: the session only resumes from what the store holds for it. */
  readonly credentials?: Credentials | undefined
  /**
   * Tells managed users of one OAuth client apart in the store: the session's key is
   * `cal:<clientId>:<userKey>`. Default: a fingerprint of the configured refresh token or code
   * (two users configured with their own tokens never share an entry; the entry follows the
   * configuration across restarts), or `"default"` when the session has no credentials. Give a
   * stable user id (such as the managed user's id) when the configured token may change.
   */
  readonly userKey?: string | undefined
  /** Refresh this long before expiry (default: the session's, 60 seconds). */
  readonly skew?: Duration.DurationInput | undefined
  /** Spread refreshes of several instances by up to this much (default: the session's). */
  readonly jitter?: Duration.DurationInput | undefined
}

/**
 * The store key of a managed user's session.
 *
 * @since 0.1.0
 * @category constructors
 */
export const storeKey = (clientId: string, userKey = "default"): string => `cal:${clientId}:${userKey}`

/**
 * A token set holding only a refresh token, its access token already expired: the session's
 * first `token` refreshes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRefreshToken = (refreshToken: Redacted.Redacted<string>): TokenSet.TokenSet =>
  new TokenSet.TokenSet({
    accessToken: Redacted.make(""),
    tokenType: "Bearer",
    expiresAt: 0,
    refreshToken
  })

/** Failures that say the server did not process the exchange: the code is still unspent. */
const unprocessed = (error: SessionError): boolean =>
  (error._tag === "TransportError" && !error.mayHaveReachedServer) ||
  (error._tag === "UnexpectedStatus" && (error.status === 429 || error.status === 503))

const defaultUserKey = (credentials: Credentials | undefined): string =>
  credentials === undefined
    ? "default"
    : TokenStore.fingerprint(Redacted.value("code" in credentials ? credentials.code : credentials.refreshToken))

/**
 * Makes the session (scoped: its proactive refresh runs while the scope lives) and its client.
 * Uses the `TokenStore` in context when there is one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Service, never, CalOAuth.CalOAuth | HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const cal = yield* CalOAuth.CalOAuth
    const key = storeKey(cal.clientId, options.userKey ?? defaultUserKey(options.credentials))
    const common: AuthSession.Options<SessionError, never> = {
      provider: "cal",
      key,
      refresh: (refreshToken) => cal.refresh({ refreshToken }),
      // A refresh that may have reached Cal.com without its answer arriving counts as spent too
      // (`AuthSession`'s default for single-use refresh tokens): Cal.com deletes the token it
      // was shown, so presenting it again could only fail.
      isRefreshRejected: (error) => error._tag === "InvalidRefreshToken",
      skew: options.skew,
      jitter: options.jitter
    }

    const credentials = options.credentials
    let sessionOptions: AuthSession.Options<SessionError, never> = common
    if (credentials !== undefined && "code" in credentials) {
      const code = credentials.code
      // A code is spent by the first exchange that reaches the server, whatever its answer:
      // after that there is nothing to log in with, and only a new authorization helps.
      const spent = yield* Ref.make(false)
      const login: Effect.Effect<TokenSet.TokenSet, SessionError> = Effect.gen(function*() {
        if (yield* Ref.getAndSet(spent, true)) {
          return yield* new AuthSession.ReauthenticationRequired({
            provider: "cal",
            key,
            reason: "the authorization code was already exchanged; authorize the user again"
          })
        }
        return yield* cal.exchange({ code }).pipe(
          Effect.tapError((error) => unprocessed(error) ? Ref.set(spent, false) : Effect.void)
        )
      })
      sessionOptions = { ...common, login }
    } else if (credentials !== undefined) {
      sessionOptions = { ...common, initial: fromRefreshToken(credentials.refreshToken) }
    }

    const session = yield* AuthSession.make(sessionOptions)
    const client = yield* SessionClient.make(session, {
      baseUrl: cal.baseUrl,
      isExpired: (response) => response.status === 498
    })
    return CalSession.of({ session, client })
  })

/**
 * The session as a layer over a `CalOAuth`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<CalSession, never, CalOAuth.CalOAuth | HttpClient.HttpClient> =>
  Layer.scoped(CalSession, make(options))

/**
 * The session started from the refresh token in `CAL_REFRESH_TOKEN` (redacted), or the config
 * given. The configured token is used only while the store holds nothing for the session: after
 * the first rotation, a persistent `TokenStore` is what keeps a restart working. When it is not
 * set, the session resumes from the store alone.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: {
    readonly refreshToken?: Config.Config<Redacted.Redacted<string>> | undefined
    readonly userKey?: string | undefined
    readonly skew?: Duration.DurationInput | undefined
    readonly jitter?: Duration.DurationInput | undefined
  } = {}
): Layer.Layer<CalSession, ConfigError.ConfigError, CalOAuth.CalOAuth | HttpClient.HttpClient> =>
  Layer.scoped(
    CalSession,
    Effect.flatMap(Config.option(options.refreshToken ?? Config.redacted("CAL_REFRESH_TOKEN")), (refreshToken) =>
      make({
        credentials: Option.match(refreshToken, {
          onNone: () => undefined,
          onSome: (value) => ({ refreshToken: value })
        }),
        userKey: options.userKey,
        skew: options.skew,
        jitter: options.jitter
      }))
  )
