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
 * - observable: `changes` streams `Valid`, `Refreshing`, `Failed`, `Unpersisted` and
 *   `ReauthenticationRequired`; every login, refresh and revoke runs in a span and counts in
 *   metrics, labelled with a digest of the session key rather than the key itself.
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
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as PubSub from "effect/PubSub"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as AuthError from "./AuthError.js"
import { digest } from "./internal/digest.js"
import { Alarm, type Timer, timerFor } from "./internal/timer.js"
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
    return `${this.provider} session "${this.key}" is closed: its scope (the layer that provides it) was released`
  }
}

/**
 * What the session is doing, as `changes` reports it. No state carries a secret.
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
  /** The current state, then every change. */
  readonly changes: Stream.Stream<State>
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

/** The longest backoff window after repeated failures. */
const maxFailureWindowMillis = 60_000

/**
 * Logins sessions performed, tagged with `provider`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const logins: Metric.Metric.Counter<number> = Metric.counter("effect-auth.logins", {
  description: "Logins performed by sessions",
  incremental: true
})

/**
 * Refresh requests sessions sent, tagged with `provider`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const refreshes: Metric.Metric.Counter<number> = Metric.counter("effect-auth.refreshes", {
  description: "Refresh requests sent by sessions",
  incremental: true
})

/**
 * Failed logins, refreshes and revokes, tagged with `provider`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const failures: Metric.Metric.Counter<number> = Metric.counter("effect-auth.failures", {
  description: "Failed logins, refreshes and revokes",
  incremental: true
})

/**
 * Store writes that failed and are being retried in the background, tagged with `provider`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const storeWriteFailures: Metric.Metric.Counter<number> = Metric.counter("effect-auth.store_write_failures", {
  description: "Token store writes that failed (retried until they succeed or the session closes)",
  incremental: true
})

/**
 * Callers that joined a login or refresh already in flight instead of sending their own,
 * tagged with `provider`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const singleFlightJoins: Metric.Metric.Counter<number> = Metric.counter("effect-auth.single_flight_joins", {
  description: "Callers that joined an in-flight login or refresh",
  incremental: true
})

// -----------------------------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------------------------

/** The token a session holds, with the store version it was read or written as. */
interface Held {
  readonly tokens: TokenSet.TokenSet
  readonly version: number | undefined
  /** False once `invalidate` reported the access token rejected. */
  readonly usable: boolean
  /** False once the refresh token was rejected or may have been spent. */
  readonly refreshable: boolean
}

/** Everything `token` reads, as one immutable value swapped whole. */
interface Cell<E> {
  readonly held: Held | undefined
  readonly inflight: Deferred.Deferred<TokenSet.TokenSet, E> | undefined
  /** Until when `token` may answer `ready` at once: the expiry of a usable token, else -Infinity. */
  readonly deadline: number
  /** The held token, as an effect built once rather than on every call. */
  readonly ready: Effect.Effect<TokenSet.TokenSet> | undefined
}

const cellOf = <E>(held: Held | undefined, inflight: Deferred.Deferred<TokenSet.TokenSet, E> | undefined): Cell<E> => ({
  held,
  inflight,
  deadline: held === undefined || !held.usable ? -Infinity : held.tokens.expiresAt ?? Infinity,
  ready: held === undefined ? undefined : Effect.succeed(held.tokens)
})

/** Why a fetch runs: a caller needs a valid token, a forced refresh, or a scheduled one. */
type Mode =
  | { readonly _tag: "Demand" }
  | { readonly _tag: "Force" }
  | { readonly _tag: "Ahead"; readonly tokens: TokenSet.TokenSet }

type Step<E> =
  | { readonly _tag: "Ready"; readonly tokens: TokenSet.TokenSet }
  | { readonly _tag: "Fail"; readonly cause: Cause.Cause<E> }
  | { readonly _tag: "Join"; readonly deferred: Deferred.Deferred<TokenSet.TokenSet, E> }
  | { readonly _tag: "Start"; readonly deferred: Deferred.Deferred<TokenSet.TokenSet, E> }

const demand: Mode = { _tag: "Demand" }
const force: Mode = { _tag: "Force" }

const sameSecret = (
  a: Redacted.Redacted<string> | undefined,
  b: Redacted.Redacted<string> | undefined
): boolean => a === b || (a !== undefined && b !== undefined && Redacted.value(a) === Redacted.value(b))

const sameTokens = (a: TokenSet.TokenSet, b: TokenSet.TokenSet): boolean =>
  a === b || (sameSecret(a.accessToken, b.accessToken) && sameSecret(a.refreshToken, b.refreshToken))

const heldOf = (stored: TokenStore.Stored): Held => ({
  tokens: stored.tokens,
  version: stored.version,
  usable: true,
  refreshable: true
})

/** What a state or log line says about an error: its message (errors carry no secrets), else its tag. */
const describe = (error: unknown): string =>
  Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== ""
    ? error.message
    : Predicate.hasProperty(error, "_tag") && typeof error._tag === "string"
    ? error._tag
    : "unknown error"

/** What spans and logs call a session: a digest of its key unless the key may be shown. */
const labelOf = (
  options: { readonly provider: string; readonly key: string; readonly showKey?: boolean | undefined }
) => options.showKey === true ? options.key : `${options.provider}:${digest(options.key).slice(0, 8)}`

const warn = (session: { readonly provider: string; readonly label: string }, message: string, error: unknown) => {
  const description = describe(error)
  return Effect.logWarning(`${message}: ${description}`).pipe(Effect.annotateLogs({
    "effect-auth.provider": session.provider,
    "effect-auth.session": session.label,
    "effect-auth.error": description
  }))
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

/** Counters tagged with a provider, made once per provider rather than at every increment. */
const taggedCounters = new WeakMap<Metric.Metric.Counter<number>, Map<string, Metric.Metric.Counter<number>>>()

const taggedCounter = (metric: Metric.Metric.Counter<number>, provider: string): Metric.Metric.Counter<number> => {
  let byProvider = taggedCounters.get(metric)
  if (byProvider === undefined) taggedCounters.set(metric, byProvider = new Map())
  let tagged = byProvider.get(provider)
  if (tagged === undefined) byProvider.set(provider, tagged = Metric.tagged(metric, "provider", provider))
  return tagged
}

/** The backoff of the background store writer: from 200 ms, doubling, at most 30 seconds. */
const storeRetrySchedule = Schedule.exponential("200 millis").pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("30 seconds"))
)

/**
 * A refresh the provider refused as dead (`isRefreshRejected`). It travels as a value, not an
 * error, so that the session's error type need not carry it: it always ends in `recover`.
 */
class Rejected {
  constructor(readonly error: unknown) {}
}

/** How a session gets a token when it cannot refresh: its credentials, or nothing to log in with. */
type Login<E, R> =
  | { readonly _tag: "Credentials"; readonly login: Effect.Effect<TokenSet.TokenSet, E, R> }
  | { readonly _tag: "None"; readonly stuck: (error: ReauthenticationRequired) => E }

/** The options that carry no error type. */
type Settings = Omit<Options, "login" | "refresh" | "isRefreshRejected" | "revoke" | "retrySchedule">

/**
 * What `make` hands a session: `E` is what obtaining a token can fail with, `ER` what the
 * provider's refresh fails with before `settle` turns its rejections into `Rejected`.
 */
interface Plan<E, ER, EV, R> {
  readonly settings: Settings
  readonly login: Login<E, R>
  readonly refresh: ((refreshToken: Redacted.Redacted<string>) => Effect.Effect<TokenSet.TokenSet, ER, R>) | undefined
  readonly settle: (refreshed: Effect.Effect<TokenSet.TokenSet, ER>) => Effect.Effect<TokenSet.TokenSet | Rejected, E>
  readonly revoke: ((tokens: TokenSet.TokenSet) => Effect.Effect<void, EV, R>) | undefined
  readonly retrySchedule: Schedule.Schedule<unknown, E | SessionClosed>
}

/**
 * A session. Its mutable fields are read without a lock and written only inside synchronous
 * steps (`Effect.sync` / `Effect.suspend`), which JavaScript runs to completion: the same
 * guarantee a `Ref` gives, without a `Ref` per field. Everything that is not per-session lives
 * on the prototype: an idle session is a handful of small objects.
 */
class SessionImpl<E, ER, EV, R> implements AuthSession<E, EV> {
  readonly provider: string
  readonly key: string
  readonly label: string
  private readonly options: Settings
  readonly token: Effect.Effect<TokenSet.TokenSet, E | SessionClosed>
  readonly invalidate: (seen: TokenSet.TokenSet) => Effect.Effect<void>
  private cell: Cell<E | SessionClosed>
  private current: State
  private hub: PubSub.PubSub<State> | undefined = undefined
  private alarm: Alarm | undefined = undefined
  private closed = false
  /** The pace of requests: a token bucket of `refreshBurst`, refilled one per interval. */
  private allowance = refreshBurst
  private allowanceAt = -Infinity
  /** Consecutive failed fetches, and until when callers get the last one without a request. */
  private failures = 0
  private failedUntil = -Infinity
  private lastFailure: Cause.Cause<E | SessionClosed> | undefined = undefined
  /** Tokens `persist` could not write, until `finish` hands them to the background writer. */
  private unpersisted: TokenSet.TokenSet | undefined = undefined

  constructor(
    private readonly plan: Plan<E, ER, EV, R>,
    private readonly scope: Scope.Scope,
    private readonly captured: Context.Context<R>,
    private readonly store: TokenStore.Service,
    private readonly clock: Clock.Clock,
    private readonly timer: Timer,
    initial: Held | undefined,
    state: State
  ) {
    this.options = plan.settings
    this.provider = plan.settings.provider
    this.key = plan.settings.key
    this.label = labelOf(plan.settings)
    this.cell = cellOf(initial, undefined)
    this.current = state
    // The hot path: one field read and one clock read while the held token is valid.
    this.token = Effect.suspend(() => {
      const cell = this.cell
      return cell.ready !== undefined && cell.deadline > this.clock.unsafeCurrentTimeMillis()
        ? cell.ready
        : this.shared(demand)
    })
    this.invalidate = (seen) =>
      Effect.sync(() => {
        const cell = this.cell
        if (cell.held !== undefined && cell.held.usable && sameSecret(cell.held.tokens.accessToken, seen.accessToken)) {
          this.cell = cellOf({ ...cell.held, usable: false }, cell.inflight)
        }
      })
  }

  get accessToken(): Effect.Effect<Redacted.Redacted<string>, E | SessionClosed> {
    return Effect.map(this.token, (tokens) => tokens.accessToken)
  }

  get refresh(): Effect.Effect<TokenSet.TokenSet, E | SessionClosed> {
    return this.shared(force)
  }

  get logout(): Effect.Effect<void, EV> {
    return Effect.gen(this, function*() {
      // Let a login or refresh in flight land first, so that it cannot bring the token back.
      const pending = this.cell.inflight
      if (pending !== undefined) yield* Effect.exit(Deferred.await(pending))
      const held = yield* this.forget()
      if (held !== undefined && this.plan.revoke !== undefined) {
        yield* this.call("effect-auth.revoke", undefined, this.plan.revoke(held.tokens))
      }
    }).pipe(Effect.ensuring(Effect.zipRight(this.removeFromStore(), this.publish({ _tag: "Empty" }))))
  }

  get state(): Effect.Effect<State> {
    return Effect.sync(() => this.current)
  }

  get changes(): Stream.Stream<State> {
    return Stream.unwrapScoped(Effect.gen(this, function*() {
      const hub = yield* this.ensureHub()
      const subscription = yield* PubSub.subscribe(hub)
      // Every published state is a new object: one published between the subscription and
      // this read is both `current` and in the queue, and is dropped from the queue.
      const current = this.current
      return Stream.concat(
        Stream.succeed(current),
        Stream.filter(Stream.fromQueue(subscription), (state) => state !== current)
      )
    }))
  }

  /** The finalizer of the session's scope. */
  finalizer(): Effect.Effect<void> {
    return Effect.suspend(() => this.close())
  }

  /** Runs when the session's scope closes, after the session's fibers were interrupted. */
  private close(): Effect.Effect<void> {
    this.closed = true
    const revoke = this.plan.revoke
    return Effect.flatMap(
      this.forget(),
      (held) =>
        held === undefined || revoke === undefined || this.options.revokeOnClose !== true
          ? Effect.void
          : this.call("effect-auth.revoke", undefined, revoke(held.tokens)).pipe(
            Effect.zipRight(this.removeFromStore()),
            Effect.catchAll((error) => warn(this, "effect-auth: revoke on close failed", error))
          )
    ).pipe(Effect.zipRight(this.publish({ _tag: "Closed" })), Effect.zipRight(this.hub?.shutdown ?? Effect.void))
  }

  private closedError(): SessionClosed {
    return new SessionClosed({ provider: this.provider, key: this.key })
  }

  /**
   * Called by the timer when the refresh scheduled for `alarm.tokens` is due. The request is
   * started from the timer's fiber; a fiber of the session's scope waits for it and, when it
   * fails, retries on `retrySchedule` (logging each failure) until a refresh succeeds.
   */
  onAlarm(alarm: Alarm): Effect.Effect<void> {
    if (alarm !== this.alarm) return Effect.void
    const mode: Mode = { _tag: "Ahead", tokens: alarm.tokens }
    return Effect.flatMap(this.begin(mode), (first) => {
      let next = first
      const attempt = Effect.suspend(() => {
        const current = next
        next = this.shared(mode)
        return current
      })
      const loop = attempt.pipe(
        Effect.tapError((error) => warn(this, "effect-auth: proactive refresh failed", error)),
        Effect.retry({
          schedule: this.plan.retrySchedule,
          while: (error) => !(error instanceof ReauthenticationRequired) && !(error instanceof SessionClosed)
        }),
        Effect.ignore
      )
      return Effect.asVoid(Effect.forkIn(Effect.interruptible(loop), this.scope))
    })
  }

  /**
   * Schedules the refresh of `held` at `expiresAt - lead`, where `lead` is the skew plus a
   * jitter drawn for this cycle, clamped to half of the lifetime left: a token living less than
   * the skew is refreshed half-way through, never in a loop. A token that has already expired,
   * or has no expiry, is not scheduled.
   */
  schedule(held: Held): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      const previous = this.alarm
      this.alarm = undefined
      const expiresAt = held.tokens.expiresAt
      const remaining = expiresAt === undefined ? 0 : expiresAt - this.clock.unsafeCurrentTimeMillis()
      if (expiresAt !== undefined && remaining > 0 && !this.closed) {
        const skew = Duration.toMillis(this.options.skew ?? defaultSkew)
        const jitter = Duration.toMillis(this.options.jitter ?? defaultJitter)
        const lead = Math.min(skew + (yield* Random.nextRange(0, jitter)), remaining / 2)
        // Whole milliseconds: the timer then never chases a fraction of a millisecond.
        const alarm = new Alarm(Math.floor(expiresAt - lead), held.tokens, this)
        this.alarm = alarm
        yield* this.timer.add(alarm)
      }
      if (previous !== undefined) yield* this.timer.cancel(previous)
    })
  }

  /**
   * Adopts an entry another writer put in the store (the store's notification): a newer,
   * valid token replaces the held one and re-arms the scheduled refresh to its expiry.
   */
  adopt(stored: TokenStore.Stored): Effect.Effect<void> {
    return Effect.suspend(() => {
      const cell = this.cell
      const held = cell.held
      if (this.closed) return Effect.void
      if (held !== undefined && held.version !== undefined && stored.version <= held.version) return Effect.void
      if (held !== undefined && sameTokens(held.tokens, stored.tokens)) {
        this.cell = cellOf({ ...held, version: stored.version }, cell.inflight)
        return Effect.void
      }
      if (!TokenSet.isValidAt(stored.tokens, this.clock.unsafeCurrentTimeMillis())) return Effect.void
      // Adopted even while a fetch of this session is in flight (waiting for the lease, say):
      // callers are served the new token at once, and the fetch finds it when its turn comes.
      const next = heldOf(stored)
      this.cell = cellOf(next, cell.inflight)
      return Effect.zipRight(this.publish({ _tag: "Valid", expiresAt: next.tokens.expiresAt }), this.schedule(next))
    })
  }

  private ensureHub(): Effect.Effect<PubSub.PubSub<State>> {
    return this.hub !== undefined
      ? Effect.succeed(this.hub)
      : Effect.flatMap(PubSub.unbounded<State>(), (created) => Effect.sync(() => this.hub ??= created))
  }

  private publish(state: State): Effect.Effect<void> {
    return Effect.sync(() => {
      this.current = state
      this.hub?.unsafeOffer(state)
    })
  }

  private forget(): Effect.Effect<Held | undefined> {
    return Effect.suspend(() => {
      const held = this.cell.held
      const alarm = this.alarm
      this.cell = cellOf(undefined, undefined)
      this.alarm = undefined
      return Effect.as(alarm === undefined ? Effect.void : this.timer.cancel(alarm), held)
    })
  }

  private removeFromStore(): Effect.Effect<void> {
    return this.store.remove(this.key).pipe(
      Effect.catchAll((error) => warn(this, "effect-auth: could not remove the tokens from the store", error))
    )
  }

  private count(metric: Metric.Metric.Counter<number>): Effect.Effect<void> {
    return Metric.increment(taggedCounter(metric, this.provider))
  }

  /**
   * Runs one of the provider's effects: with the context the session was built in (under the
   * span of whoever triggered it), in its own span, counted.
   */
  private call<A, E1>(
    name: string,
    metric: Metric.Metric.Counter<number> | undefined,
    effect: Effect.Effect<A, E1, R>
  ): Effect.Effect<A, E1> {
    const captured = this.captured
    const provided = Effect.mapInputContext(
      effect,
      (current: Context.Context<never>): Context.Context<R> =>
        Option.match(Context.getOption(current, Tracer.ParentSpan), {
          onNone: () => captured,
          onSome: (span) => Context.add(captured, Tracer.ParentSpan, span)
        })
    )
    return provided.pipe(
      Effect.tapError(() => this.count(failures)),
      (counted) => metric === undefined ? counted : Effect.zipRight(this.count(metric), counted),
      Effect.withSpan(name, {
        attributes: { "effect-auth.provider": this.provider, "effect-auth.session": this.label },
        kind: "client"
      })
    )
  }

  /** A login or refresh, paced by the token bucket: it waits (on the `Clock`) for its turn. */
  private paced<A, E1>(name: string, metric: Metric.Metric.Counter<number>, effect: Effect.Effect<A, E1, R>) {
    return Effect.suspend(() => {
      const interval = Duration.toMillis(this.options.minRefreshInterval ?? defaultMinRefreshInterval)
      const now = this.clock.unsafeCurrentTimeMillis()
      const refilled = interval <= 0
        ? refreshBurst
        : Math.min(refreshBurst, this.allowance + (now - this.allowanceAt) / interval)
      const wait = refilled >= 1 ? 0 : Math.ceil((1 - refilled) * interval)
      this.allowance = refilled - 1
      this.allowanceAt = now
      const call = this.call(name, metric, effect)
      return wait === 0 ? call : Effect.zipRight(this.clock.sleep(Duration.millis(wait)), call)
    })
  }

  private readStore(): Effect.Effect<Option.Option<TokenStore.Stored>> {
    return this.store.get(this.key).pipe(
      Effect.catchAll((error) =>
        Effect.as(warn(this, "effect-auth: could not read the token store", error), Option.none())
      )
    )
  }

  // --- obtaining a token: runs in the fetch fiber ---------------------------------------------

  /**
   * Writes new tokens with a compare-and-set before anyone sees them. A conflict adopts the
   * store's valid token, or writes over the store's version once (re-running the refresh would
   * spend a refresh token that was already rotated). A store that cannot be written gets the
   * tokens from a background writer that keeps trying until it succeeds, a newer token
   * replaces these, or the session closes; meanwhile the state is `Unpersisted`.
   */
  private persist(tokens: TokenSet.TokenSet, expected: number | undefined, retried = false): Effect.Effect<Held> {
    return this.store.set(this.key, tokens, expected).pipe(
      Effect.map(heldOf),
      Effect.catchTags({
        VersionConflict: (conflict) =>
          Effect.gen(this, function*() {
            const stored = yield* this.readStore()
            if (
              Option.isSome(stored) && TokenSet.isValidAt(stored.value.tokens, this.clock.unsafeCurrentTimeMillis())
            ) {
              return heldOf(stored.value)
            }
            if (!retried) {
              return yield* this.persist(tokens, Option.getOrUndefined(Option.map(stored, (_) => _.version)), true)
            }
            yield* warn(this, "effect-auth: the token store keeps changing; keeping the new tokens in memory", conflict)
            return { tokens, version: expected, usable: true, refreshable: true }
          }),
        TokenStoreError: (error) =>
          Effect.gen(this, function*() {
            yield* warn(this, "effect-auth: could not write the token store; retrying in the background", error)
            yield* this.count(storeWriteFailures)
            // `finish` starts the background writer once these tokens are the held ones.
            this.unpersisted = tokens
            return { tokens, version: expected, usable: true, refreshable: true }
          })
      })
    )
  }

  /**
   * The background writer of `persist`, for the held tokens the store did not take. It stops
   * when the store takes them, when newer tokens replace them (whose own write covers them), or
   * when the session closes (the fiber belongs to its scope).
   */
  private persistLater(pending: Held): Effect.Effect<void> {
    const superseded = () => this.closed || this.cell.held?.tokens !== pending.tokens
    const unpersisted = (error: unknown) =>
      Effect.suspend(() =>
        superseded()
          ? Effect.void
          : this.publish({ _tag: "Unpersisted", expiresAt: pending.tokens.expiresAt, error: describe(error) })
      )
    const attempt = Effect.suspend(() => {
      const held = this.cell.held
      if (superseded() || held === undefined) return Effect.void
      return this.store.set(this.key, pending.tokens, held.version).pipe(
        Effect.flatMap((stored) =>
          Effect.suspend(() => {
            const cell = this.cell
            if (superseded() || cell.held === undefined) return Effect.void
            this.cell = cellOf({ ...cell.held, version: stored.version }, cell.inflight)
            return this.publish({ _tag: "Valid", expiresAt: pending.tokens.expiresAt })
          })
        ),
        // Another writer got there first: its entry is newer than the version these tokens were
        // based on, so it wins, and the session adopts it when it is valid. No entry at all
        // (it expired, or the store came back without its data, as a Redis without persistence
        // does) has nothing newer to yield to: the next attempt writes over the absence.
        Effect.catchTag("VersionConflict", (conflict) =>
          Effect.flatMap(
            this.readStore(),
            Option.match({
              onNone: () =>
                Effect.suspend(() => {
                  const cell = this.cell
                  if (superseded() || cell.held === undefined) return Effect.void
                  this.cell = cellOf({ ...cell.held, version: undefined }, cell.inflight)
                  return Effect.fail(conflict)
                }),
              onSome: (stored) => this.adopt(stored)
            })
          )),
        Effect.tapError((error) => Effect.zipRight(this.count(storeWriteFailures), unpersisted(error)))
      )
    })
    return attempt.pipe(
      Effect.retry(storeRetrySchedule),
      Effect.ignore
    )
  }

  private loginOr(
    expected: number | undefined,
    reason: string,
    cause?: unknown
  ): Effect.Effect<Held, E> {
    const login = this.plan.login
    return login._tag === "None"
      ? Effect.fail(login.stuck(
        new ReauthenticationRequired({
          provider: this.provider,
          key: this.key,
          reason: cause === undefined ? reason : `${reason} (${describe(cause)})`,
          cause
        })
      ))
      : Effect.flatMap(this.paced("effect-auth.login", logins, login.login), (tokens) => this.persist(tokens, expected))
  }

  /**
   * Whether a refresh failure the provider did not reject still means the refresh token must
   * never be presented again: a single-use token whose refresh may have reached the server.
   */
  private isSpent(error: E): boolean {
    return this.options.refreshGrant !== "replayable" && AuthError.mayHaveBeenProcessed(error)
  }

  private obtain(base: Held | undefined, adopted: boolean): Effect.Effect<Held, E> {
    const refresh = this.plan.refresh
    const refreshToken = base?.tokens.refreshToken
    if (
      base === undefined || refresh === undefined || refreshToken === undefined || !base.refreshable ||
      !TokenSet.canRefreshAt(base.tokens, this.clock.unsafeCurrentTimeMillis())
    ) {
      return this.loginOr(base?.version, base === undefined ? "no token and no credentials" : "no usable refresh token")
    }
    return Effect.matchEffect(this.plan.settle(this.paced("effect-auth.refresh", refreshes, refresh(refreshToken))), {
      onSuccess: (next) =>
        next instanceof Rejected
          ? this.recover(base, adopted, next.error, true)
          : this.persist(TokenSet.merge(base.tokens, next), base.version),
      onFailure: (error) => this.isSpent(error) ? this.recover(base, adopted, error, false) : Effect.fail(error)
    })
  }

  // The refresh token was refused, or may have been spent without an answer. If another
  // instance rotated it first, its tokens are in the store: take them (refreshing once with
  // them if their access token is stale). Otherwise never present this refresh token again.
  private recover(rejected: Held, adopted: boolean, error: unknown, refused: boolean): Effect.Effect<Held, E> {
    return Effect.gen(this, function*() {
      const stored = yield* this.readStore()
      if (Option.isSome(stored) && !sameTokens(stored.value.tokens, rejected.tokens)) {
        const candidate = heldOf(stored.value)
        if (TokenSet.isValidAt(candidate.tokens, this.clock.unsafeCurrentTimeMillis())) return candidate
        if (!adopted && !sameSecret(candidate.tokens.refreshToken, rejected.tokens.refreshToken)) {
          return yield* this.obtain(candidate, true)
        }
      }
      const cell = this.cell
      if (cell.held !== undefined && cell.held.tokens === rejected.tokens) {
        this.cell = cellOf({ ...cell.held, refreshable: false }, cell.inflight)
      }
      const reason = refused
        ? "the refresh token was rejected"
        : "the refresh token may have been spent: the answer to its refresh was lost"
      return yield* this.loginOr(rejected.version, reason, error)
    })
  }

  /**
   * One fetch, under the store's refresh lease: whoever held it before may have left a token
   * that makes this fetch unnecessary, so the store is read first, then the provider asked.
   */
  private cycle(mode: Mode): Effect.Effect<Held, E> {
    const body = (leased: boolean) =>
      Effect.gen(this, function*() {
        const held = this.cell.held
        const now = this.clock.unsafeCurrentTimeMillis()
        const valid = held !== undefined && held.usable && TokenSet.isValidAt(held.tokens, now)
        // The store's notification brought another instance's token while this fetch waited for
        // the lease: that token is the answer.
        if (valid && (mode._tag === "Demand" || (mode._tag === "Ahead" && held.tokens !== mode.tokens))) return held
        const read = yield* Effect.either(this.store.get(this.key))
        if (Either.isLeft(read)) yield* warn(this, "effect-auth: could not read the token store", read.left)
        // Without the lease or the store, another instance may have rotated the refresh token
        // already: a scheduled refresh waits while the held token is still valid (it is
        // re-armed half-way to expiry), and only a caller without a valid token goes ahead.
        if ((Either.isLeft(read) || !leased) && mode._tag === "Ahead" && valid) return held
        const stored = Either.getOrElse(read, () => Option.none<TokenStore.Stored>())
        if (Option.isNone(stored) || (held !== undefined && stored.value.version === held.version)) {
          return yield* this.obtain(held, false)
        }
        const candidate = heldOf(stored.value)
        const newer = held === undefined || held.version === undefined || stored.value.version > held.version
        const fresher = held === undefined ||
          (mode._tag === "Demand"
            ? held.usable || !sameSecret(held.tokens.accessToken, candidate.tokens.accessToken)
            : mode._tag === "Force"
            ? newer && !sameTokens(held.tokens, candidate.tokens)
            : (candidate.tokens.expiresAt ?? Infinity) > (held.tokens.expiresAt ?? Infinity))
        return fresher && TokenSet.isValidAt(candidate.tokens, now)
          ? candidate
          : yield* this.obtain(candidate, false)
      })
    return Effect.zipRight(
      this.publish({ _tag: "Refreshing" }),
      Effect.scoped(Effect.flatMap(
        Effect.matchEffect(this.store.lease(this.key), {
          onFailure: (error) =>
            Effect.as(warn(this, "effect-auth: could not take the refresh lease; going on without it", error), false),
          onSuccess: () => Effect.succeed(true)
        }),
        body
      ))
    )
  }

  // --- single flight --------------------------------------------------------------------------

  private finish(
    deferred: Deferred.Deferred<TokenSet.TokenSet, E | SessionClosed>,
    exit: Exit.Exit<Held, E>
  ): Effect.Effect<void> {
    return Exit.match(exit, {
      onSuccess: (held) =>
        Effect.suspend(() => {
          this.cell = cellOf(held, undefined)
          this.failures = 0
          this.lastFailure = undefined
          const expiresAt = held.tokens.expiresAt
          const dead = expiresAt !== undefined && expiresAt <= this.clock.unsafeCurrentTimeMillis()
          const unpersisted = this.unpersisted === held.tokens
          this.unpersisted = undefined
          return Effect.all([
            dead
              ? warn(
                this,
                "effect-auth: the provider issued a token that had already expired",
                "check the clocks of this host and the provider; requests are paced by minRefreshInterval"
              )
              : Effect.void,
            unpersisted
              ? Effect.zipRight(
                this.publish({ _tag: "Unpersisted", expiresAt, error: "the token store could not be written" }),
                Effect.forkIn(Effect.interruptible(this.persistLater(held)), this.scope)
              )
              : this.publish({ _tag: "Valid", expiresAt })
          ], { discard: true })
        }).pipe(
          Effect.zipRight(this.schedule(held)),
          Effect.zipRight(Deferred.succeed(deferred, held.tokens))
        ),
      onFailure: (cause) =>
        Effect.suspend(() => {
          this.cell = cellOf(this.cell.held, undefined)
          // The fetch fiber belongs to the session's scope: only closing it interrupts the fetch.
          if (Cause.isInterruptedOnly(cause)) return Deferred.fail(deferred, this.closedError())
          this.failures++
          if (this.failures >= 2) {
            const interval = Duration.toMillis(this.options.minRefreshInterval ?? defaultMinRefreshInterval)
            const window = Math.min(interval * 2 ** (this.failures - 2), maxFailureWindowMillis)
            this.failedUntil = this.clock.unsafeCurrentTimeMillis() + window
            this.lastFailure = cause
          }
          return Option.match(Cause.failureOption(cause), {
            onNone: () => this.publish({ _tag: "Failed", error: "defect" }),
            onSome: (error) =>
              this.publish(
                error instanceof ReauthenticationRequired
                  ? { _tag: "ReauthenticationRequired", reason: error.reason }
                  : { _tag: "Failed", error: describe(error) }
              )
          }).pipe(Effect.zipRight(Deferred.failCause(deferred, cause)))
        })
    })
  }

  private decide(
    mode: Mode,
    makeDeferred: () => Deferred.Deferred<TokenSet.TokenSet, E | SessionClosed>
  ): Step<E | SessionClosed> {
    const cell = this.cell
    if (this.closed) return { _tag: "Fail", cause: Cause.fail(this.closedError()) }
    if (mode._tag === "Ahead" && (cell.held === undefined || cell.held.tokens !== mode.tokens)) {
      // A newer token arrived, or the session logged out: this schedule is obsolete.
      return { _tag: "Ready", tokens: mode.tokens }
    }
    const now = this.clock.unsafeCurrentTimeMillis()
    if (
      mode._tag === "Demand" && cell.held !== undefined && cell.held.usable && TokenSet.isValidAt(cell.held.tokens, now)
    ) {
      return { _tag: "Ready", tokens: cell.held.tokens }
    }
    if (cell.inflight !== undefined) return { _tag: "Join", deferred: cell.inflight }
    if (this.lastFailure !== undefined && now < this.failedUntil) return { _tag: "Fail", cause: this.lastFailure }
    const deferred = makeDeferred()
    this.cell = cellOf(cell.held, deferred)
    return { _tag: "Start", deferred }
  }

  // The fetch is forked while uninterruptible, so its `onExit` is in place before anything can
  // interrupt it; only the provider calls are interruptible (by the session's scope). `begin`
  // returns how to wait for the result: a caller that is interrupted stops waiting, and the
  // fetch goes on for the others.
  private begin(
    mode: Mode
  ): Effect.Effect<Effect.Effect<TokenSet.TokenSet, E | SessionClosed>> {
    return Effect.uninterruptible(
      Effect.withFiberRuntime((fiber) => {
        // Only the caller that starts a fetch needs a `Deferred`: joiners and callers served from
        // the held token (the hot path) allocate none.
        const step = this.decide(mode, () => Deferred.unsafeMake(fiber.id()))
        switch (step._tag) {
          case "Ready":
            return Effect.succeed(Effect.succeed(step.tokens))
          case "Fail":
            return Effect.succeed(Effect.failCause(step.cause))
          case "Join":
            return Effect.as(this.count(singleFlightJoins), Deferred.await(step.deferred))
          case "Start":
            return Effect.as(
              Effect.forkIn(
                Effect.onExit(Effect.interruptible(this.cycle(mode)), (exit) => this.finish(step.deferred, exit)),
                this.scope
              ),
              Deferred.await(step.deferred)
            )
        }
      })
    )
  }

  private shared(mode: Mode): Effect.Effect<TokenSet.TokenSet, E | SessionClosed> {
    return Effect.flatten(this.begin(mode))
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
 *   writer retries (state `Unpersisted`, metric `effect-auth.store_write_failures`) until it
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
 * the session's label: a digest of its key unless `showKey`) and counts in the metrics of this
 * module, tagged with `provider`.
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
  // One implementation for both signatures: `ReauthenticationRequired` is built in one place,
  // `loginOr`, and only when `login` is `None`, which is why a session with a login never fails
  // with it (unless its own login does).
  const rejects = options.isRefreshRejected
  const isRejected = (error: ER): error is X => rejects !== undefined && rejects(error)
  const login: Login<EL | Exclude<ER, X> | ReauthenticationRequired, R> = options.login === undefined
    ? { _tag: "None", stuck: (error) => error }
    : { _tag: "Credentials", login: options.login }
  const { isRefreshRejected: _, login: __, refresh, retrySchedule, revoke, ...settings } = options
  return build({
    settings,
    login,
    refresh,
    settle: (refreshed) => Effect.catchIf(refreshed, isRejected, (error) => Effect.succeed(new Rejected(error))),
    revoke,
    retrySchedule: retrySchedule ?? defaultRetrySchedule
  })
}

const build = <E, ER, EV, R>(plan: Plan<E, ER, EV, R>): Effect.Effect<AuthSession<E, EV>, never, R | Scope.Scope> =>
  Effect.gen(function*() {
    const options = plan.settings
    const scope = yield* Effect.scope
    const captured = yield* Effect.context<R>()
    const clock = yield* Effect.clock
    const store = options.store ??
      Option.getOrElse(yield* Effect.serviceOption(TokenStore.TokenStore), () => memoryOnly)
    const label = { provider: options.provider, label: labelOf(options) }
    const stored = yield* store.get(options.key).pipe(
      Effect.catchAll((error) =>
        Effect.as(warn(label, "effect-auth: could not read the token store", error), Option.none())
      )
    )
    const initial = Option.match(stored, {
      onNone: (): Held | undefined =>
        options.initial === undefined
          ? undefined
          : { tokens: options.initial, version: undefined, usable: true, refreshable: true },
      onSome: heldOf
    })
    const state: State = initial !== undefined && TokenSet.isValidAt(initial.tokens, clock.unsafeCurrentTimeMillis())
      ? { _tag: "Valid", expiresAt: initial.tokens.expiresAt }
      : { _tag: "Empty" }
    const session = new SessionImpl(plan, scope, captured, store, clock, timerFor(clock), initial, state)
    // Added before any fiber is forked into the scope, so it runs after they are interrupted.
    yield* Scope.addFinalizer(scope, session.finalizer())
    yield* store.subscribe(options.key, (entry) => session.adopt(entry)).pipe(
      Scope.extend(scope),
      Effect.catchAll((error) =>
        warn(label, "effect-auth: could not subscribe to the token store; adopting on refresh only", error)
      )
    )
    if (initial !== undefined) yield* session.schedule(initial)
    return session
  })
