/**
 * A self-refreshing token for one identity, shared by every fiber that needs it.
 *
 * Built from a `login` effect, an optional `refresh` effect and an optional `revoke` effect, a
 * session keeps a valid `TokenSet` for as long as its scope lives:
 *
 * - single-flight: concurrent callers share one in-flight request; a failure reaches the callers
 *   waiting on it and is not cached; an interrupted caller does not cancel the shared request;
 * - proactive refresh: a fiber scoped to the session sleeps until `expiresAt - skew - jitter` and
 *   refreshes; a failed proactive refresh is retried on a schedule and never ends the loop;
 * - rotation: a new refresh token is written to the `TokenStore` before the new access token is
 *   handed out; a refresh response without one keeps the old one; a single-use refresh token
 *   that was rejected, or whose answer was lost after it may have reached the server, is never
 *   presented again: the session re-reads the store and adopts a token another instance
 *   rotated, else logs in again when it can, else fails with `ReauthenticationRequired`;
 * - coordination: sessions sharing a store hold its refresh lease while they refresh, so one
 *   refreshes and the others adopt its result; a store that notifies lets them re-arm at once;
 * - bounded: logins and refreshes are rate-limited per session, and after repeated failures
 *   callers get the last failure for a backoff window instead of sending another request;
 * - observable: `changes(session)` streams `Valid`, `Refreshing`, `Failed`, `Unpersisted`,
 *   `ReauthenticationRequired` and `Closed`; every login, refresh and revoke runs in a span,
 *   labelled with a digest of the session key rather than the key itself, and is reported to the
 *   `Observer` in context (`SessionMetrics.layer` counts them in metrics). Neither costs an
 *   application that does not use it: the stream and the metrics are not part of `make`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as AuthError from "./AuthError.js"
import { digest } from "./internal/digest.js"
import { type Entry, timerFor } from "./internal/timer.js"
import * as TokenSet from "./TokenSet.js"
import * as TokenStore from "./TokenStore.js"

/**
 * The session can no longer obtain a token by itself: its refresh token was rejected, no other
 * instance left a newer one in the store, and it has no credentials to log in again with.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReauthenticationRequired extends Schema.TaggedError<ReauthenticationRequired>(
  "@effect-auth/core/ReauthenticationRequired"
)("ReauthenticationRequired", {
  provider: Schema.String,
  key: Schema.String,
  reason: Schema.String,
  /** The failure that led here (a rejected or lost refresh), when there was one. */
  cause: Schema.optional(Schema.Unknown)
}) {
  override get message(): string {
    return `${this.provider} session "${this.key}" needs to authenticate again: ${this.reason}`
  }
}

/**
 * The session's scope has closed: it was used after its layer was released, or a caller was
 * waiting for a token when it was.
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionClosed extends Schema.TaggedError<SessionClosed>("@effect-auth/core/SessionClosed")(
  "SessionClosed",
  {
    provider: Schema.String,
    key: Schema.String
  }
) {
  override get message(): string {
    return `${this.provider} session "${this.key}" is closed: its scope was released`
  }
}

/**
 * What the session is doing, as `state` and `changes` report it. No state carries a secret.
 *
 * @since 0.1.0
 * @category models
 */
export type State =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Valid"; readonly expiresAt: number | undefined }
  | { readonly _tag: "Refreshing" }
  | { readonly _tag: "Failed"; readonly error: string }
  | { readonly _tag: "ReauthenticationRequired"; readonly reason: string }
  /** A valid token the store could not take: the session keeps writing it until it can. */
  | { readonly _tag: "Unpersisted"; readonly expiresAt: number | undefined; readonly error: string }
  | { readonly _tag: "Closed" }

/**
 * A session. `E` is exactly what obtaining a token can fail with (see `make`): the login's
 * errors, the refresh errors that are not a rejection of the refresh token (a rejected refresh
 * becomes a login, or `ReauthenticationRequired`), and `ReauthenticationRequired` when the
 * session has nothing to log in with. `EV` is what revoking can fail with (`never` when the
 * provider cannot revoke). `token` and `refresh` add `SessionClosed`: the one failure of a session
 * used after its scope closed.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthSession<E, EV = never> {
  readonly provider: string
  readonly key: string
  /** A valid token set: the current one, or the result of the one in-flight login or refresh. */
  readonly token: Effect.Effect<TokenSet.TokenSet, E | SessionClosed>
  /** The access token of `token`. */
  readonly accessToken: Effect.Effect<Redacted.Redacted<string>, E | SessionClosed>
  /**
   * Marks the token a server rejected (after a 401) as unusable. Only the current token is
   * affected: however many callers report the same token, the session refetches once, and a
   * token older than the current one is ignored.
   */
  readonly invalidate: (seen: TokenSet.TokenSet) => Effect.Effect<void>
  /** Refreshes now, whatever the expiry, and returns the new token set. */
  readonly refresh: Effect.Effect<TokenSet.TokenSet, E | SessionClosed>
  /**
   * Revokes the token when the provider can, then forgets it and clears the store. The token is
   * forgotten and the store cleared even when the revoke fails; its error is then returned.
   */
  readonly logout: Effect.Effect<void, EV>
  /** The current state. */
  readonly state: Effect.Effect<State>
  /**
   * Calls `listener` with the current state at once, then with every state the session moves
   * to, synchronously, until the returned function is called. A listener must not throw. What
   * `changes` is built on.
   *
   * @since 0.2.0
   */
  readonly watch: (listener: (state: State) => void) => () => void
}

/**
 * How to build a session. `EL`, `ER` and `EV` are the errors of `login`, `refresh` and `revoke`;
 * `X` is the part of `ER` that `isRefreshRejected` recognises as a dead refresh token, which
 * never reaches a caller (see `make`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<EL = never, ER = never, X extends ER = never, EV = never, R = never> {
  /** The provider name, used in spans, metrics and errors (such as `"occam"`). */
  readonly provider: string
  /**
   * The key the tokens are stored under in the `TokenStore`. Two identities must have two keys.
   * It often names the identity (`occam:ada@example.com`), so spans and logs carry a digest of
   * it instead (`occam:3f2a9c1e`) unless `showKey` is set.
   */
  readonly key: string
  /** Put the key itself, not its digest, in spans and log annotations. Default: false. */
  readonly showKey?: boolean | undefined
  /** Obtains a fresh token set from credentials; absent when the session has none. */
  readonly login?: Effect.Effect<TokenSet.TokenSet, EL, R> | undefined
  /** Exchanges a refresh token for a new token set; absent when the provider has no refresh. */
  readonly refresh?: ((refreshToken: Redacted.Redacted<string>) => Effect.Effect<TokenSet.TokenSet, ER, R>) | undefined
  /**
   * Whether a refresh failure means the refresh token is dead (rather than a passing fault).
   * Default: never, so only a refresh that may have been spent (below) counts besides. Give a
   * refinement (`(error): error is RefreshTokenExpired => ...`) and the errors it recognises
   * leave the session's error type: the session answers them by logging in again, or with
   * `ReauthenticationRequired`, never by returning them. A plain predicate works the same at
   * run time and leaves the type as it is.
   */
  readonly isRefreshRejected?: ((error: ER) => error is X) | ((error: ER) => boolean) | undefined
  /**
   * Whether the refresh token is spent by presenting it (`"single-use"`, the default: a
   * rotating refresh token) or stays valid (`"replayable"`, such as Cognito's). A single-use
   * token whose refresh may have reached the server without an answer arriving
   * (`AuthError.mayHaveBeenProcessed`) is treated as rejected: never presented again.
   */
  readonly refreshGrant?: "single-use" | "replayable" | undefined
  /** Revokes a token set at the provider; absent when the provider cannot. */
  readonly revoke?: ((tokens: TokenSet.TokenSet) => Effect.Effect<void, EV, R>) | undefined
  /**
   * Revoke when the session's scope closes (once, and only when a token is held; the store entry
   * is then removed too, since a revoked token is of no use to the next run). Default: false.
   */
  readonly revokeOnClose?: boolean | undefined
  /** A token set to start from when the store holds none (such as a configured refresh token). */
  readonly initial?: TokenSet.TokenSet | undefined
  /** Refresh this long before expiry. Default: 60 seconds (`defaultSkew`). */
  readonly skew?: Duration.DurationInput | undefined
  /**
   * Refresh up to this much earlier again, at random, so instances spread out. Default: 30
   * seconds (`defaultJitter`).
   */
  readonly jitter?: Duration.DurationInput | undefined
  /**
   * How a failed proactive refresh is retried. The loop never gives up on a passing failure; it
   * stops only on `ReauthenticationRequired` (until a new token arrives). Default:
   * `defaultRetrySchedule` (exponential from 1 second with jitter, capped at 60 seconds).
   */
  readonly retrySchedule?: Schedule.Schedule<unknown, EL | ER | ReauthenticationRequired | SessionClosed> | undefined
  /**
   * The sustained pace of logins and refreshes: at most one per this interval, after a burst of
   * `refreshBurst`. Also the first backoff window after repeated failures (doubling, at most 60
   * seconds), during which callers get the last failure without a new request. Bounds what a
   * provider issuing very short-lived or already expired tokens, or failing every refresh, can
   * cost. Default: 1 second (`defaultMinRefreshInterval`).
   */
  readonly minRefreshInterval?: Duration.DurationInput | undefined
  /**
   * Where the tokens are kept. Default: the `TokenStore` in context when there is one, else the
   * session's memory only.
   */
  readonly store?: TokenStore.Service | undefined
}

/**
 * The options of every provider's session (`OccamSession.layer`, `IxApiSession.layer`,
 * `CalSession.layer`, `EnduroSatSession.layer`, and their `make`): the same names and meanings
 * everywhere, only `C`, the provider's `Credentials`, differs.
 *
 * ```ts
 * OccamSession.layer({ credentials: { apiKey }, skew: "2 minutes" })
 * IxApiSession.layer({ credentials: { apiKey, apiSecret }, key: "ix-api:ops" })
 * CalSession.layer({ credentials: { refreshToken }, store })
 * EnduroSatSession.layer({ credentials: { username, password }, revokeOnClose: true })
 * ```
 *
 * Secrets in credentials are `Redacted` and nothing else is: a password, an API secret, a
 * refresh token or an authorization code is; a username, a client id or an IX-API key id is a
 * plain string. A session built without credentials (from plain JavaScript, say) fails with a
 * `ConfigError` at `credentials` when its layer is built.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionOptions<C> {
  /** What the session authenticates with: the provider's `Credentials`. */
  readonly credentials: C
  /**
   * The `TokenStore` key. Default: one per identity, derived from the credentials (each
   * provider's README says how; secrets only as a fingerprint), so two identities never share an
   * entry. Give one when the credentials may change but the identity does not.
   */
  readonly key?: string | undefined
  /** Refresh this long before expiry. Default: `defaultSkew` (60 seconds). */
  readonly skew?: Duration.DurationInput | undefined
  /** Refresh up to this much earlier again, at random. Default: `defaultJitter` (30 seconds). */
  readonly jitter?: Duration.DurationInput | undefined
  /**
   * Where the tokens are kept. Default: the `TokenStore` in context when there is one, else the
   * session's memory only.
   */
  readonly store?: TokenStore.Service | undefined
}

/**
 * The `make` options that a provider passes on from its `SessionOptions` as they are: `skew`,
 * `jitter` and `store` (and `revokeOnClose` where the provider can revoke).
 *
 * @since 0.1.0
 * @category constructors
 */
export const passThrough = (
  options: Omit<RevocableSessionOptions<unknown>, "credentials">
): Pick<Options, "skew" | "jitter" | "store" | "revokeOnClose"> => ({
  skew: options.skew,
  jitter: options.jitter,
  store: options.store,
  revokeOnClose: options.revokeOnClose
})

/**
 * `SessionOptions` of a provider that can revoke tokens (EnduroSat).
 *
 * @since 0.1.0
 * @category models
 */
export interface RevocableSessionOptions<C> extends SessionOptions<C> {
  /** Revoke the tokens when the session's scope closes. Default: false. */
  readonly revokeOnClose?: boolean | undefined
}

/**
 * The options of every provider's `layerConfig`: `SessionOptions` whose credentials come from
 * `Config` (each provider's variables by default).
 *
 * @since 0.1.0
 * @category models
 */
export type SessionConfigOptions<O extends { readonly credentials?: unknown }> =
  & Omit<O, "credentials">
  & { readonly credentials?: Config.Config<O["credentials"]> | undefined }

/**
 * The default `skew`: refresh 60 seconds before the access token expires.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultSkew: Duration.Duration = Duration.seconds(60)

/**
 * The default `jitter`: refresh up to 30 seconds earlier again, drawn at random for every cycle.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultJitter: Duration.Duration = Duration.seconds(30)

/**
 * The default `retrySchedule` of a failed proactive refresh: exponential from 1 second, with
 * jitter, never waiting more than 60 seconds, forever.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultRetrySchedule: Schedule.Schedule<unknown> = Schedule.exponential("1 second").pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("60 seconds"))
)

/**
 * The default `minRefreshInterval`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultMinRefreshInterval: Duration.Duration = Duration.seconds(1)

/**
 * How many logins or refreshes a session may send back to back before `minRefreshInterval`
 * paces it: enough for a login followed by a refresh after a 401.
 *
 * @since 0.1.0
 * @category defaults
 */
export const refreshBurst = 3

/**
 * An effect that calls `f(service, input)` each time it runs, as
 * `Effect.suspend(() => f(service, input))` does, for the price of one object holding the three:
 * what a provider passes as `login`, so that the request is built only when a login runs. The
 * closure of `Effect.suspend` keeps alive the whole scope it was made in (the provider's options
 * and other locals) and costs, with the suspended effect, a few hundred bytes more for every idle
 * session. `f` is best made once, by the module, for every session.
 *
 * ```ts
 * const passwordLogin = (auth: OccamAuth.Service, credentials: PasswordCredentials) => auth.login(credentials)
 *
 * AuthSession.make({ provider, key, login: AuthSession.lazy(passwordLogin, auth, credentials) })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const lazy = <S, I, A, E, R>(
  f: (service: S, input: I) => Effect.Effect<A, E, R>,
  service: S,
  input: I
): Effect.Effect<A, E, R> => new Lazy(f, service, input)

class Lazy<S, I, A, E, R> extends Effectable.Class<A, E, R> {
  constructor(
    readonly f: (service: S, input: I) => Effect.Effect<A, E, R>,
    readonly service: S,
    readonly input: I
  ) {
    super()
  }
  commit(): Effect.Effect<A, E, R> {
    return this.f(this.service, this.input)
  }
}

/**
 * What a session reports to its `Observer`: a login or refresh request sent, a failed login,
 * refresh or revoke, a store write that failed (and is retried in the background), a caller that
 * joined a request already in flight.
 *
 * @since 0.2.0
 * @category observability
 */
export type Event = "login" | "refresh" | "failure" | "storeWriteFailure" | "join"

/**
 * Hears every `Event` of the sessions built where it is provided, with the session's provider
 * name. The default hears nothing, so a session costs nothing for what nobody reads;
 * `SessionMetrics.layer` provides one that counts them in metrics.
 *
 * @since 0.2.0
 * @category observability
 */
export class Observer extends Context.Reference<Observer>()("@effect-auth/core/AuthSession/Observer", {
  defaultValue: (): (event: Event, provider: string) => Effect.Effect<void> => () => Effect.void
}) {}

/**
 * The current state of `session`, then every change, until the session's scope closes (the
 * stream ends after `Closed`).
 *
 * @since 0.2.0
 * @category observability
 */
export const changes = <E, EV>(session: AuthSession<E, EV>): Stream.Stream<State> =>
  Stream.asyncPush((emit) =>
    Effect.acquireRelease(
      Effect.sync(() =>
        session.watch((state) => {
          emit.single(state)
          if (state._tag === "Closed") emit.end()
        })
      ),
      (unwatch) => Effect.sync(unwatch)
    )
  )

// -----------------------------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------------------------

/** A token and what the session knows of it: the store version, and whether it may be used. */
interface Held {
  readonly tokens: TokenSet.TokenSet
  readonly version: number | undefined
  /** False once `invalidate` reported the access token rejected. */
  readonly usable: boolean
  /** False once the refresh token was rejected or may have been spent. */
  readonly refreshable: boolean
}

/**
 * Why a fetch runs: a caller needs a valid token (`demand`), a forced refresh (`force`), or the
 * scheduled refresh of the token set given.
 */
type Mode = 0 | 1 | TokenSet.TokenSet
const demand = 0
const force = 1

const readFailed = "could not read the token store"
const writeFailed = "could not write the token store; retrying"

const empty: State = { _tag: "Empty" }
const refreshing: State = { _tag: "Refreshing" }
const closed: State = { _tag: "Closed" }

const sameSecret = (a: Redacted.Redacted<string> | undefined, b: Redacted.Redacted<string> | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && Redacted.value(a) === Redacted.value(b))

const sameTokens = (a: TokenSet.TokenSet, b: TokenSet.TokenSet): boolean =>
  a === b || (sameSecret(a.accessToken, b.accessToken) && sameSecret(a.refreshToken, b.refreshToken))

const fresh = (tokens: TokenSet.TokenSet, version: number | undefined): Held => ({
  tokens,
  version,
  usable: true,
  refreshable: true
})

const heldOf = (stored: TokenStore.Stored): Held => fresh(stored.tokens, stored.version)

/** What a state or log line says about an error: its message (errors carry no secrets), else its tag. */
const describe = (error: unknown): string => {
  const { _tag, message } = (error ?? {}) as { readonly _tag?: unknown; readonly message?: unknown }
  return typeof message === "string" && message !== "" ? message : typeof _tag === "string" ? _tag : "unknown error"
}

/**
 * The store of a session built without a `TokenStore`: nobody else reads or writes it, so it
 * needs to keep nothing (the session holds its tokens), every write succeeds, and there is
 * nobody to lease against or hear from.
 */
const memoryOnly: TokenStore.Service = {
  get: () => Effect.succeedNone,
  set: (_key, tokens, expectedVersion) => Effect.succeed({ tokens, version: (expectedVersion ?? 0) + 1 }),
  remove: () => Effect.void,
  lease: () => Effect.void,
  subscribe: () => Effect.void
}

/** The backoff of the background store writer: from 200 ms, doubling, at most 30 seconds. */
const storeRetrySchedule = Schedule.exponential("200 millis").pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("30 seconds"))
)

/**
 * What only a session that sends requests, fails or is watched needs: created on first use, so
 * an idle session does without it.
 */
class Rare {
  constructor(
    /** The state; `undefined` is `Valid` for the held token, built when asked for. */
    public state: State | undefined
  ) {}
  /** The one login or refresh in flight. */
  inflight: Deferred.Deferred<TokenSet.TokenSet, unknown> | undefined
  /** The pace of requests: a token bucket of `refreshBurst`, refilled one per interval. */
  allowance = refreshBurst
  allowanceAt = -Infinity
  /** Consecutive failed fetches, and until when callers get the last one without a request. */
  failures = 0
  failedUntil = -Infinity
  lastFailure: Cause.Cause<unknown> | undefined
  /** Tokens `persist` could not write, until `finish` hands them to the background writer. */
  unpersisted: TokenSet.TokenSet | undefined
  /** The listeners of `watch`. */
  listeners: Set<(state: State) => void> | undefined
  /** The sessions built after this one in its scope, which this one's finalizer closes. */
  readonly followers: Array<SessionImpl> = []
}

/** What the sessions built in one place share: their scope, context, clock and store. */
interface Env {
  readonly scope: Scope.Scope
  readonly captured: Context.Context<unknown>
  readonly clock: Clock.Clock
  readonly store: TokenStore.Service
}

/** The last `Env` made for each context: the sessions a layer builds in a row share one. */
const envs = new WeakMap<Context.Context<unknown>, Env>()

const envOf = (env: Env): Env => {
  const last = envs.get(env.captured)
  if (last !== undefined && last.scope === env.scope && last.clock === env.clock && last.store === env.store) {
    return last
  }
  envs.set(env.captured, env)
  return env
}

/** The bits of `SessionImpl`'s flags. */
const usableBit = 1
const refreshableBit = 2
const closedBit = 4

/**
 * `token`: one small object per session, built when first asked for, whose evaluation reads the
 * held token and the clock, rather than a closure and an `Effect.suspend`. It also keeps the
 * session's effect of the held token and its rarely used state.
 */
class Token extends Effectable.Class<TokenSet.TokenSet, unknown> {
  /** The held token as an effect, built on the first call after it changed. */
  ready: Effect.Effect<TokenSet.TokenSet> | undefined
  /** The session's rarely used state, created on first use. */
  rare: Rare | undefined
  constructor(readonly session: SessionImpl) {
    super()
  }
  commit(): Effect.Effect<TokenSet.TokenSet, unknown> {
    return this.session.serve(this)
  }
}

/**
 * The first time a refresh was scheduled for: every session keeps its own as an offset from it.
 * Times are whole milliseconds, so the offset and back are exact (below 2^53).
 */
let epoch: number | undefined

/** The first session of each scope that closes sessions: it closes the others too. */
const leaders = new WeakMap<Scope.Scope, SessionImpl>()

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyOptions = Options<any, any, any, any, any>

/**
 * A session. Its mutable fields are read without a lock and written only inside synchronous
 * steps (`Effect.sync` / `Effect.suspend`), which JavaScript runs to completion: the same
 * guarantee a `Ref` gives, without a `Ref` per field. The held token is unfolded into fields,
 * the methods live on the prototype, and the session is its own entry in the shared timer: an
 * idle session is one object, its `token`, and the numbers of its alarm.
 */
class SessionImpl implements AuthSession<unknown, unknown>, Entry {
  #tokens: TokenSet.TokenSet | undefined
  #version: number | undefined
  /**
   * `usable`, `refreshable` and `closed` as its low bits, and above them the timer's `index`
   * plus one: one small integer rather than four fields.
   */
  #flags = usableBit | refreshableBit
  /**
   * When the scheduled refresh is due, in milliseconds after `epoch`: a small integer, which the
   * object holds inline, where an epoch time would take a heap number of its own. Unset until
   * the first schedule, so that an offset too large for a small integer costs only its session
   * a heap number, instead of turning the field of every session into one.
   */
  #at: number | undefined
  /** `token`, built when first asked for; the rarely used state hangs off it. */
  #t: Token | undefined
  readonly #options: AnyOptions
  readonly #env: Env

  constructor(options: AnyOptions, env: Env) {
    this.#options = options
    this.#env = envOf(env)
  }

  #flag(bit: number): boolean {
    return (this.#flags & bit) !== 0
  }

  #set(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit
  }

  /** When the scheduled refresh is due: the timer entry's time. */
  get at(): number {
    return this.#at! + (epoch ?? 0)
  }
  set at(at: number) {
    // A time that is not finite stays what it is whatever the epoch: only a finite one fixes it.
    if (epoch === undefined && Number.isFinite(at)) epoch = at
    this.#at = at - (epoch ?? 0)
  }

  /** Where the timer's heap holds this session, -1 when it does not. */
  get index(): number {
    return (this.#flags >> 3) - 1
  }
  set index(index: number) {
    this.#flags = (this.#flags & 7) | ((index + 1) << 3)
  }

  /** The state; `undefined` is `Valid` for the held token. Kept aside once it is not that or `Empty`. */
  get #current(): State | undefined {
    return this.#rare !== undefined ? this.#rare.state : this.#tokens === undefined ? empty : undefined
  }
  set #current(state: State | undefined) {
    this.#side().state = state
  }

  get token(): Token {
    return this.#t ??= new Token(this)
  }

  /** The hot path of `token`: one field, one clock read while the held token is valid. */
  serve(token: Token): Effect.Effect<TokenSet.TokenSet, unknown> {
    const tokens = this.#tokens
    return this.#servable(tokens, this.#now())
      // Built on the first call after the token changed, then served as it is.
      ? token.ready ??= Effect.succeed(tokens)
      : this.#shared(demand)
  }

  /** Whether `tokens`, the held ones, can be handed out at `now` without a fetch. */
  #servable(tokens: TokenSet.TokenSet | undefined, now: number): tokens is TokenSet.TokenSet {
    return tokens !== undefined && this.#flag(usableBit) && TokenSet.isValidAt(tokens, now)
  }

  get provider(): string {
    return this.#options.provider
  }

  get key(): string {
    return this.#options.key
  }

  /**
   * What spans and logs say of the session: its provider and its label, a digest of its key
   * unless the key may be shown.
   */
  #labels(): Record<string, string> {
    const { key, provider, showKey } = this.#options
    return {
      "effect-auth.provider": provider,
      "effect-auth.session": showKey === true ? key : `${provider}:${digest(key).slice(0, 8)}`
    }
  }

  get accessToken(): Effect.Effect<Redacted.Redacted<string>, unknown> {
    return Effect.map(this.token, (tokens) => tokens.accessToken)
  }

  get refresh(): Effect.Effect<TokenSet.TokenSet, unknown> {
    return this.#shared(force)
  }

  get state(): Effect.Effect<State> {
    return Effect.sync(() => this.#stateNow())
  }

  get logout(): Effect.Effect<void, unknown> {
    return Effect.gen(this, function*() {
      // Let a login or refresh in flight land first, so that it cannot bring the token back.
      const pending = this.#rare?.inflight
      if (pending !== undefined) yield* Effect.exit(Deferred.await(pending))
      const revoke = this.#revoke(yield* this.#forget())
      if (revoke !== undefined) yield* revoke
    }).pipe(Effect.ensuring(Effect.zipRight(this.#removeFromStore(), this.#publish(empty))))
  }

  invalidate(seen: TokenSet.TokenSet): Effect.Effect<void> {
    return Effect.sync(() => {
      if (
        this.#tokens !== undefined && this.#flag(usableBit) && sameSecret(this.#tokens.accessToken, seen.accessToken)
      ) {
        // `serve` hands out no token that is not usable; `hold` drops its effect with it.
        this.#set(usableBit, false)
      }
    })
  }

  watch(listener: (state: State) => void): () => void {
    const listeners = this.#side().listeners ??= new Set()
    listeners.add(listener)
    listener(this.#stateNow())
    return () => listeners.delete(listener)
  }

  get #rare(): Rare | undefined {
    return this.#t?.rare
  }

  #side(): Rare {
    const current = this.#current
    return this.token.rare ??= new Rare(current)
  }

  #stateNow(): State {
    return this.#current ?? { _tag: "Valid", expiresAt: this.#tokens?.expiresAt }
  }

  #now(): number {
    return this.#env.clock.unsafeCurrentTimeMillis()
  }

  /** Whether `tokens` are valid now. */
  #valid(tokens: TokenSet.TokenSet): boolean {
    return TokenSet.isValidAt(tokens, this.#now())
  }

  /** The held token, as the value a fetch works with. */
  #held(): Held | undefined {
    return this.#tokens === undefined ? undefined : {
      tokens: this.#tokens,
      version: this.#version,
      usable: this.#flag(usableBit),
      refreshable: this.#flag(refreshableBit)
    }
  }

  #hold(held: Held | undefined): void {
    this.#tokens = held?.tokens
    this.#version = held?.version
    this.#set(usableBit, held?.usable ?? true)
    this.#set(refreshableBit, held?.refreshable ?? true)
    if (this.#t !== undefined) this.#t.ready = undefined
  }

  /** Sets the state (`undefined`: `Valid` for the held token) and tells the listeners. */
  #publish(state: State | undefined): Effect.Effect<void> {
    return Effect.sync(() => {
      this.#current = state
      const listeners = this.#rare?.listeners
      if (listeners !== undefined && listeners.size > 0) {
        const now = this.#stateNow()
        for (const listener of listeners) listener(now)
      }
    })
  }

  #warn(message: string, error: unknown): Effect.Effect<void> {
    const description = describe(error)
    return Effect.logWarning(`effect-auth: ${message}: ${description}`).pipe(
      Effect.annotateLogs({ ...this.#labels(), "effect-auth.error": description })
    )
  }

  #count(event: Event): Effect.Effect<void> {
    return Effect.suspend(() => Context.get(this.#env.captured, Observer)(event, this.provider))
  }

  #closedError(): SessionClosed {
    return new SessionClosed({ provider: this.provider, key: this.key })
  }

  /** The finalizer of the scope: closes the sessions built in it, latest first. */
  #closeAll(): Effect.Effect<void> {
    // A session built in this scope from now on (once it has closed) closes at once.
    leaders.delete(this.#env.scope)
    const followers = this.#rare?.followers ?? []
    return Effect.forEach([...followers.reverse(), this], (session) => session.#close(), { discard: true })
  }

  /** Closes the session: it runs after the session's fibers were interrupted. */
  #close(): Effect.Effect<void> {
    this.#set(closedBit, true)
    return Effect.flatMap(this.#forget(), (tokens) => {
      const revoke = this.#options.revokeOnClose === true ? this.#revoke(tokens) : undefined
      return revoke === undefined ? Effect.void : revoke.pipe(
        Effect.zipRight(this.#removeFromStore()),
        Effect.catchAll((error) => this.#warn("revoke on close failed", error))
      )
    }).pipe(Effect.zipRight(this.#publish(closed)))
  }

  /** The revoke of `tokens`, in its span: `undefined` without tokens, or when the provider cannot revoke. */
  #revoke(tokens: TokenSet.TokenSet | undefined): Effect.Effect<void, unknown> | undefined {
    const revoke = this.#options.revoke
    return tokens === undefined || revoke === undefined
      ? undefined
      : this.#call("effect-auth.revoke", undefined, revoke(tokens))
  }

  /**
   * Called by the timer when the scheduled refresh is due. The request is started from the
   * timer's fiber; a fiber of the session's scope waits for it and, when it fails, retries on
   * `retrySchedule` (logging each failure) until a refresh succeeds.
   */
  fire(): Effect.Effect<void> {
    const mode = this.#tokens
    if (mode === undefined || this.index >= 0) return Effect.void
    return Effect.flatMap(this.#begin(mode), (first) => {
      let next = first
      const attempt = Effect.suspend(() => {
        const current = next
        next = this.#shared(mode)
        return current
      })
      const loop = attempt.pipe(
        Effect.tapError((error) => this.#warn("proactive refresh failed", error)),
        Effect.retry({
          schedule: this.#options.retrySchedule ?? defaultRetrySchedule,
          while: (error) => !(error instanceof ReauthenticationRequired) && !(error instanceof SessionClosed)
        }),
        Effect.ignore
      )
      return Effect.asVoid(Effect.forkIn(Effect.interruptible(loop), this.#env.scope))
    })
  }

  /**
   * Schedules the refresh of the held token at `expiresAt - lead`, where `lead` is the skew
   * plus a jitter drawn for this cycle, clamped to half of the lifetime left: a token living
   * less than the skew is refreshed half-way through, never in a loop. A token that has already
   * expired, or has no expiry, is not scheduled.
   */
  #schedule(): Effect.Effect<void> {
    const timer = timerFor(this.#env.clock)
    return Effect.zipRight(
      timer.cancel(this),
      Effect.suspend(() => {
        const expiresAt = this.#tokens?.expiresAt
        const remaining = expiresAt === undefined ? 0 : expiresAt - this.#now()
        const options = this.#options
        return expiresAt === undefined || remaining <= 0 || this.#flag(closedBit)
          ? Effect.void
          : Effect.flatMap(
            Random.nextRange(0, Duration.toMillis(options.jitter ?? defaultJitter)),
            (jitter) =>
              Effect.suspend(() => {
                // Another schedule of the same token got there first.
                if (this.index >= 0) return Effect.void
                const lead = Math.min(Duration.toMillis(options.skew ?? defaultSkew) + jitter, remaining / 2)
                // Whole milliseconds: the timer then never chases a fraction of a millisecond.
                this.at = Math.floor(expiresAt - lead)
                return timer.add(this)
              })
          )
      })
    )
  }

  /**
   * Adopts an entry another writer put in the store (the store's notification): a newer,
   * valid token replaces the held one and re-arms the scheduled refresh to its expiry.
   */
  #adopt(stored: TokenStore.Stored): Effect.Effect<void> {
    return Effect.suspend(() => {
      const held = this.#tokens
      if (
        this.#flag(closedBit) || (held !== undefined && this.#version !== undefined && stored.version <= this.#version)
      ) {
        return Effect.void
      }
      if (held !== undefined && sameTokens(held, stored.tokens)) {
        this.#version = stored.version
        return Effect.void
      }
      if (!this.#valid(stored.tokens)) return Effect.void
      // Adopted even while a fetch of this session is in flight (waiting for the lease, say):
      // callers are served the new token at once, and the fetch finds it when its turn comes.
      this.#hold(heldOf(stored))
      return Effect.zipRight(this.#publish(undefined), this.#schedule())
    })
  }

  #forget(): Effect.Effect<TokenSet.TokenSet | undefined> {
    return Effect.suspend(() => {
      const tokens = this.#tokens
      // The state stays what it was until the caller publishes the next one.
      this.#current = this.#stateNow()
      this.#hold(undefined)
      return Effect.as(timerFor(this.#env.clock).cancel(this), tokens)
    })
  }

  #removeFromStore(): Effect.Effect<void> {
    return Effect.catchAll(
      this.#env.store.remove(this.key),
      (error) => this.#warn("could not remove the tokens from the store", error)
    )
  }

  #readStore(): Effect.Effect<Option.Option<TokenStore.Stored>> {
    return Effect.catchAll(
      this.#env.store.get(this.key),
      (error) => Effect.as(this.#warn(readFailed, error), Option.none())
    )
  }

  /**
   * Runs one of the provider's effects: with the context the session was built in (under the
   * span of whoever triggered it), in its own span, counted.
   */
  #call<A, E1>(name: string, event: Event | undefined, effect: Effect.Effect<A, E1, unknown>): Effect.Effect<A, E1> {
    const captured = this.#env.captured
    const provided = Effect.mapInputContext(effect, (current: Context.Context<never>) => {
      const span = Context.getOption(current, Tracer.ParentSpan)
      return Option.isSome(span) ? Context.add(captured, Tracer.ParentSpan, span.value) : captured
    })
    return Effect.tapError(
      event === undefined ? provided : Effect.zipRight(this.#count(event), provided),
      () => this.#count("failure")
    ).pipe(
      Effect.withSpan(name, {
        attributes: this.#labels(),
        kind: "client"
      })
    )
  }

  /** `minRefreshInterval` in milliseconds: the pace of requests and the first backoff window. */
  #interval(): number {
    return Duration.toMillis(this.#options.minRefreshInterval ?? defaultMinRefreshInterval)
  }

  /** A login or refresh, paced by the token bucket: it waits (on the `Clock`) for its turn. */
  #paced<A, E1>(name: string, event: Event, effect: Effect.Effect<A, E1, unknown>): Effect.Effect<A, E1> {
    return Effect.suspend(() => {
      const side = this.#side()
      const interval = this.#interval()
      const now = this.#now()
      const refilled = interval <= 0
        ? refreshBurst
        : Math.min(refreshBurst, side.allowance + (now - side.allowanceAt) / interval)
      const wait = refilled >= 1 ? 0 : Math.ceil((1 - refilled) * interval)
      side.allowance = refilled - 1
      side.allowanceAt = now
      const call = this.#call(name, event, effect)
      return wait === 0 ? call : Effect.zipRight(this.#env.clock.sleep(Duration.millis(wait)), call)
    })
  }

  // --- obtaining a token: runs in the fetch fiber ---------------------------------------------

  /**
   * Writes new tokens with a compare-and-set before anyone sees them. A conflict adopts the
   * store's valid token, or writes over the store's version once (re-running the refresh would
   * spend a refresh token that was already rotated). A store that cannot be written gets the
   * tokens from a background writer that keeps trying until it succeeds, a newer token
   * replaces these, or the session closes; meanwhile the state is `Unpersisted`.
   */
  #persist(tokens: TokenSet.TokenSet, expected: number | undefined, retried = false): Effect.Effect<Held> {
    const kept = fresh(tokens, expected)
    return this.#env.store.set(this.key, tokens, expected).pipe(
      Effect.map(heldOf),
      Effect.catchTags({
        VersionConflict: (conflict) =>
          Effect.flatMap(
            this.#readStore(),
            (stored) =>
              Option.isSome(stored) && this.#valid(stored.value.tokens)
                ? Effect.succeed(heldOf(stored.value))
                : retried
                ? Effect.as(this.#warn("the token store keeps changing; tokens kept in memory", conflict), kept)
                : this.#persist(tokens, Option.getOrUndefined(stored)?.version, true)
          ),
        TokenStoreError: (error) =>
          Effect.zipRight(
            this.#warn(writeFailed, error),
            this.#count("storeWriteFailure")
          ).pipe(
            // `finish` starts the background writer once these tokens are the held ones.
            Effect.map(() => {
              this.#side().unpersisted = tokens
              return kept
            })
          )
      })
    )
  }

  /**
   * The background writer of `persist`, for the held tokens the store did not take. It stops
   * when the store takes them, when newer tokens replace them (whose own write covers them), or
   * when the session closes (the fiber belongs to its scope).
   */
  #persistLater(pending: TokenSet.TokenSet): Effect.Effect<void> {
    // Runs `f` only while `pending` are still the held tokens of an open session.
    const current = <A, E1>(f: () => Effect.Effect<A, E1>) =>
      Effect.suspend(() => this.#flag(closedBit) || this.#tokens !== pending ? Effect.void : f())
    return current(() =>
      this.#env.store.set(this.key, pending, this.#version).pipe(
        Effect.flatMap((stored) =>
          current(() => {
            this.#version = stored.version
            return this.#publish(undefined)
          })
        ),
        // Another writer got there first: its entry is newer than the version these tokens were
        // based on, so it wins, and the session adopts it when it is valid. No entry at all
        // (it expired, or the store came back without its data, as a Redis without persistence
        // does) has nothing newer to yield to: the next attempt writes over the absence.
        Effect.catchTag("VersionConflict", (conflict) =>
          Effect.flatMap(
            this.#readStore(),
            Option.match({
              onNone: () =>
                current(() => {
                  this.#version = undefined
                  return Effect.fail(conflict)
                }),
              onSome: (stored) => this.#adopt(stored)
            })
          )),
        Effect.tapError((error) =>
          Effect.zipRight(
            this.#count("storeWriteFailure"),
            current(() => this.#publish({ _tag: "Unpersisted", expiresAt: pending.expiresAt, error: describe(error) }))
          )
        )
      )
    ).pipe(Effect.retry(storeRetrySchedule), Effect.ignore)
  }

  #loginOr(expected: number | undefined, reason: string, cause?: unknown): Effect.Effect<Held, unknown> {
    const login = this.#options.login
    return login === undefined
      ? new ReauthenticationRequired({
        provider: this.provider,
        key: this.key,
        reason: cause === undefined ? reason : `${reason} (${describe(cause)})`,
        cause
      })
      : Effect.flatMap(this.#paced("effect-auth.login", "login", login), (tokens) => this.#persist(tokens, expected))
  }

  #obtain(base: Held | undefined, adopted: boolean): Effect.Effect<Held, unknown> {
    const options = this.#options
    const refresh = options.refresh
    const refreshToken = base?.tokens.refreshToken
    if (
      base === undefined || refresh === undefined || refreshToken === undefined || !base.refreshable ||
      !TokenSet.canRefreshAt(base.tokens, this.#now())
    ) {
      return this.#loginOr(
        base?.version,
        base === undefined ? "no token and no credentials" : "no usable refresh token"
      )
    }
    return Effect.matchEffect(this.#paced("effect-auth.refresh", "refresh", refresh(refreshToken)), {
      onSuccess: (next) => this.#persist(TokenSet.merge(base.tokens, next), base.version),
      // A refresh token the provider refused is dead, and so is a single-use one whose refresh
      // may have reached the server without an answer arriving.
      onFailure: (error) =>
        options.isRefreshRejected?.(error)
          ? this.#recover(base, adopted, error, true)
          : options.refreshGrant !== "replayable" && AuthError.mayHaveBeenProcessed(error)
          ? this.#recover(base, adopted, error, false)
          : Effect.fail(error)
    })
  }

  // The refresh token was refused, or may have been spent without an answer. If another
  // instance rotated it first, its tokens are in the store: take them (refreshing once with
  // them if their access token is stale). Otherwise never present this refresh token again.
  #recover(rejected: Held, adopted: boolean, error: unknown, refused: boolean): Effect.Effect<Held, unknown> {
    return Effect.flatMap(this.#readStore(), (stored) => {
      if (Option.isSome(stored) && !sameTokens(stored.value.tokens, rejected.tokens)) {
        const candidate = heldOf(stored.value)
        if (this.#valid(candidate.tokens)) {
          return Effect.succeed(candidate)
        }
        if (!adopted && !sameSecret(candidate.tokens.refreshToken, rejected.tokens.refreshToken)) {
          return this.#obtain(candidate, true)
        }
      }
      if (this.#tokens === rejected.tokens) this.#set(refreshableBit, false)
      return this.#loginOr(
        rejected.version,
        refused
          ? "the refresh token was rejected"
          : "the refresh token may have been spent (its answer was lost)",
        error
      )
    })
  }

  /**
   * One fetch, under the store's refresh lease: whoever held it before may have left a token
   * that makes this fetch unnecessary, so the store is read first, then the provider asked.
   */
  #cycle(mode: Mode): Effect.Effect<Held, unknown> {
    const body = (leased: boolean) =>
      Effect.gen(this, function*() {
        const held = this.#held()
        const now = this.#now()
        const valid = held !== undefined && held.usable && TokenSet.isValidAt(held.tokens, now)
        const ahead = typeof mode === "object"
        // The store's notification brought another instance's token while this fetch waited for
        // the lease: that token is the answer.
        if (valid && (mode === demand || (ahead && held.tokens !== mode))) return held
        const read = yield* Effect.either(this.#env.store.get(this.key))
        if (Either.isLeft(read)) yield* this.#warn(readFailed, read.left)
        // Without the lease or the store, another instance may have rotated the refresh token
        // already: a scheduled refresh waits while the held token is still valid (it is
        // re-armed half-way to expiry), and only a caller without a valid token goes ahead.
        if ((Either.isLeft(read) || !leased) && ahead && valid) return held
        const stored = Either.getOrElse(read, Option.none<TokenStore.Stored>)
        if (Option.isNone(stored) || (held !== undefined && stored.value.version === held.version)) {
          return yield* this.#obtain(held, false)
        }
        const candidate = heldOf(stored.value)
        const newer = held === undefined || held.version === undefined || stored.value.version > held.version
        const fresher = held === undefined ||
          (mode === demand
            ? held.usable || !sameSecret(held.tokens.accessToken, candidate.tokens.accessToken)
            : mode === force
            ? newer && !sameTokens(held.tokens, candidate.tokens)
            : (candidate.tokens.expiresAt ?? Infinity) > (held.tokens.expiresAt ?? Infinity))
        return fresher && TokenSet.isValidAt(candidate.tokens, now)
          ? candidate
          : yield* this.#obtain(candidate, false)
      })
    return Effect.zipRight(
      this.#publish(refreshing),
      Effect.scoped(Effect.flatMap(
        Effect.matchEffect(this.#env.store.lease(this.key), {
          onFailure: (error) => Effect.as(this.#warn("could not take the refresh lease", error), false),
          onSuccess: () => Effect.succeed(true)
        }),
        body
      ))
    )
  }

  // --- single flight --------------------------------------------------------------------------

  #finish(
    deferred: Deferred.Deferred<TokenSet.TokenSet, unknown>,
    exit: Exit.Exit<Held, unknown>
  ): Effect.Effect<void> {
    return Effect.suspend(() => {
      // `begin` made the rarely used state, to hold the deferred.
      const rare = this.#side()
      rare.inflight = undefined
      const now = this.#now()
      if (Exit.isSuccess(exit)) {
        const held = exit.value
        const tokens = held.tokens
        const expiresAt = tokens.expiresAt
        const unpersisted = rare.unpersisted === tokens
        this.#hold(held)
        rare.failures = 0
        rare.lastFailure = rare.unpersisted = undefined
        return Effect.all([
          expiresAt !== undefined && expiresAt <= now
            ? this.#warn(
              "the provider issued a token that had already expired",
              "check both clocks"
            )
            : Effect.void,
          unpersisted
            ? Effect.zipRight(
              this.#publish({ _tag: "Unpersisted", expiresAt, error: writeFailed }),
              Effect.forkIn(Effect.interruptible(this.#persistLater(tokens)), this.#env.scope)
            )
            : this.#publish(undefined),
          this.#schedule(),
          Deferred.succeed(deferred, tokens)
        ], { discard: true })
      }
      const cause = exit.cause
      // The fetch fiber belongs to the session's scope: only closing it interrupts the fetch.
      if (Cause.isInterruptedOnly(cause)) return Deferred.fail(deferred, this.#closedError())
      if (++rare.failures >= 2) {
        const interval = this.#interval()
        rare.failedUntil = now + Math.min(interval * 2 ** (rare.failures - 2), 60_000)
        rare.lastFailure = cause
      }
      const error = Cause.failureOption(cause)
      return Effect.zipRight(
        this.#publish(
          Option.isSome(error) && error.value instanceof ReauthenticationRequired
            ? { _tag: "ReauthenticationRequired", reason: error.value.reason }
            : { _tag: "Failed", error: Option.isNone(error) ? "defect" : describe(error.value) }
        ),
        Deferred.failCause(deferred, cause)
      )
    })
  }

  // The fetch is forked while uninterruptible, so its `onExit` is in place before anything can
  // interrupt it; only the provider calls are interruptible (by the session's scope). `begin`
  // returns how to wait for the result: a caller that is interrupted stops waiting, and the
  // fetch goes on for the others. Only the caller that starts a fetch allocates a `Deferred`.
  #begin(mode: Mode): Effect.Effect<Effect.Effect<TokenSet.TokenSet, unknown>> {
    return Effect.uninterruptible(Effect.withFiberRuntime((fiber) => {
      const tokens = this.#tokens
      if (this.#flag(closedBit)) return Effect.succeed(Effect.fail(this.#closedError()))
      // A newer token arrived, or the session logged out: this schedule is obsolete.
      if (typeof mode === "object" && tokens !== mode) return Effect.succeed(Effect.succeed(mode))
      const now = this.#now()
      if (mode === demand && this.#servable(tokens, now)) {
        return Effect.succeed(Effect.succeed(tokens))
      }
      const rare = this.#rare
      const inflight = rare?.inflight
      if (inflight !== undefined) return Effect.as(this.#count("join"), Deferred.await(inflight))
      if (rare?.lastFailure !== undefined && now < rare.failedUntil) {
        return Effect.succeed(Effect.failCause(rare.lastFailure))
      }
      const deferred = this.#side().inflight = Deferred.unsafeMake<TokenSet.TokenSet, unknown>(fiber.id())
      return Effect.as(
        Effect.forkIn(
          Effect.onExit(Effect.interruptible(this.#cycle(mode)), (exit) => this.#finish(deferred, exit)),
          this.#env.scope
        ),
        Deferred.await(deferred)
      )
    }))
  }

  #shared(mode: Mode): Effect.Effect<TokenSet.TokenSet, unknown> {
    return Effect.flatten(this.#begin(mode))
  }

  /**
   * Closes `session` with `scope`. The sessions of one scope share the finalizer of the first of
   * them, added before any of their fibers is forked into the scope (so it runs after those are
   * interrupted), which closes them latest first: a finalizer of its own would cost each session
   * more than the rest of its state.
   */
  static #closeWith(scope: Scope.Scope, session: SessionImpl): Effect.Effect<void> {
    const leader = leaders.get(scope)
    if (leader !== undefined) {
      leader.#side().followers.push(session)
      return Effect.void
    }
    leaders.set(scope, session)
    return Scope.addFinalizerExit(scope, session.#closeAll.bind(session))
  }

  /** What `make` does, inside the class for the private fields it sets. */
  static build(options: AnyOptions): Effect.Effect<SessionImpl, never, Scope.Scope> {
    return Effect.gen(function*() {
      const scope = yield* Effect.scope
      const captured = (yield* Effect.context<never>()) as Context.Context<unknown>
      const clock = yield* Effect.clock
      const store = options.store ??
        Context.getOrElse(captured, TokenStore.TokenStore, () => memoryOnly)
      const session = new SessionImpl(options, { scope, captured, clock, store })
      const stored = yield* session.#readStore()
      session.#hold(
        Option.isSome(stored)
          ? heldOf(stored.value)
          : options.initial && fresh(options.initial, undefined)
      )
      if (session.#tokens !== undefined && !session.#valid(session.#tokens)) session.#current = empty
      // Added before any fiber is forked into the scope, so it runs after they are interrupted.
      yield* SessionImpl.#closeWith(scope, session)
      yield* store.subscribe(options.key, (entry) => session.#adopt(entry)).pipe(
        Scope.extend(scope),
        Effect.catchAll((error) => session.#warn("could not subscribe to the token store", error))
      )
      yield* session.#schedule()
      return session
    })
  }
}

/**
 * Builds a session that lives as long as the current scope.
 *
 * It uses the `TokenStore` in the context when there is one; without one the session keeps its
 * tokens in memory only. A token found in the store under `key` wins over `initial` (a
 * persisted, rotated refresh token is newer than a configured one). Time comes from the `Clock`
 * of the fiber that builds the session.
 *
 * - `token` reads one field and the clock while the held token is valid; otherwise the caller
 *   joins the one login or refresh in flight, or starts it. The request runs in a fiber of the
 *   session's scope, so an interrupted caller does not cancel it; its failure reaches the callers
 *   waiting on it. Once the scope has closed, `token` fails with `SessionClosed`, and so do the
 *   callers waiting when it closes.
 * - A scheduled refresh runs at `expiresAt - lead`, where `lead = skew + random(0, jitter)`
 *   drawn per cycle, but never more than half of the lifetime left when the token arrived: a
 *   token shorter-lived than the skew is refreshed half-way, not in a loop (a 10 second token
 *   with the default skew is refreshed about 5 seconds before it expires). A token that arrives
 *   already expired (logged as a warning), or has no `expiresAt`, is only replaced on demand or
 *   after `invalidate`. Until the new token arrives, `token` keeps returning the old one while
 *   it is valid. A failed scheduled refresh is logged at warning level and retried on
 *   `retrySchedule` until it succeeds; only `ReauthenticationRequired` ends the retries.
 *   Scheduled refreshes share one timer fiber per `Clock` (an idle session holds no fiber of
 *   its own); closing the session's scope cancels its alarm and interrupts its requests.
 * - Pacing: logins and refreshes go out at most `refreshBurst` back to back, then one per
 *   `minRefreshInterval` (later ones wait their turn). After the second consecutive failure,
 *   callers get that failure without a new request for a window that starts at
 *   `minRefreshInterval` and doubles with each further failure, up to 60 seconds; a success
 *   closes it.
 * - Each fetch holds the store's refresh lease (`TokenStore.lease`), then reads the store: a
 *   valid token another instance left there is adopted. A refresh is used when the held refresh
 *   token can still be presented, else `login`. The result (merged with `TokenSet.merge`, so a
 *   response without a refresh token keeps the old one) is written to the store with a
 *   compare-and-set before any caller sees it. When the write conflicts, the store's token is
 *   adopted if valid; otherwise the new tokens are written again over the store's version.
 *   When the store cannot be written, the tokens are served from memory while a background
 *   writer retries (state `Unpersisted`, event `storeWriteFailure`) until it
 *   succeeds, a newer token replaces them, or the session closes. A store that notifies
 *   (`TokenStore.subscribe`) hands the session every newer token another writer stores: it is
 *   adopted and the scheduled refresh re-armed to its expiry.
 * - A refresh that `isRefreshRejected`, or, for a single-use refresh token (`refreshGrant`),
 *   that may have reached the server without its answer arriving, marks the refresh token as
 *   never to be presented again, re-reads the store and adopts a token another instance rotated
 *   in the meantime; otherwise it logs in again when `login` exists, else fails with
 *   `ReauthenticationRequired` carrying the failure as its `cause`. Any other refresh failure
 *   fails the callers with that error and leaves the state `Failed`.
 *
 * The error type says exactly what callers can get. With a `login`: its errors, and the refresh
 * errors `isRefreshRejected` does not recognise (a recognised one is answered by logging in). Without
 * one: those refresh errors and `ReauthenticationRequired`. `token` and `refresh` add
 * `SessionClosed`; `logout` fails with what `revoke` fails with. Give `isRefreshRejected` as a
 * refinement for the recognised errors to leave the type.
 *
 * Every login, refresh and revoke runs in a span (`effect-auth.login`, `effect-auth.refresh`,
 * `effect-auth.revoke`, with the attributes `effect-auth.provider` and `effect-auth.session`,
 * the session's label: a digest of its key unless `showKey`) and is reported, with every other
 * `Event`, to the `Observer` of the context the session is built in (`SessionMetrics.layer`
 * counts them in metrics tagged with `provider`).
 *
 * @since 0.1.0
 * @category constructors
 */
export function make<EL, ER = never, X extends ER = never, EV = never, R = never>(
  options: Options<EL, ER, X, EV, R> & { readonly login: Effect.Effect<TokenSet.TokenSet, EL, R> }
): Effect.Effect<AuthSession<EL | Exclude<ER, X>, EV>, never, R | Scope.Scope>
export function make<ER = never, X extends ER = never, EV = never, R = never>(
  options: Options<never, ER, X, EV, R> & { readonly login?: undefined }
): Effect.Effect<AuthSession<Exclude<ER, X> | ReauthenticationRequired, EV>, never, R | Scope.Scope>
export function make<EL, ER, X extends ER, EV, R>(
  options: Options<EL, ER, X, EV, R>
): Effect.Effect<AuthSession<EL | Exclude<ER, X> | ReauthenticationRequired, EV>, never, R | Scope.Scope>
export function make<EL, ER, X extends ER, EV, R>(
  options: Options<EL, ER, X, EV, R>
): Effect.Effect<AuthSession<EL | Exclude<ER, X> | ReauthenticationRequired, EV>, never, R | Scope.Scope> {
  // One implementation for every signature: `ReauthenticationRequired` is built in one place,
  // `loginOr`, and only without a `login`, which is why a session with a login never fails with
  // it (unless its own login does). The session keeps `options` as they were given.
  return SessionImpl.build(options) as Effect.Effect<
    AuthSession<EL | Exclude<ER, X> | ReauthenticationRequired, EV>,
    never,
    R | Scope.Scope
  >
}
