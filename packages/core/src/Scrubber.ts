/**
 * The one place that keeps secrets out of what a server wrote. A server that echoes the request
 * (a validation message quoting a field, a proxy's error page, a redirect carrying a code) must
 * not carry a secret into an error, a log line or a span, whatever spelling the echo uses.
 *
 * A `Scrubber` knows every spelling a secret travels in: raw; percent-encoded as
 * `encodeURIComponent` and `encodeURI` write it, and as an `application/x-www-form-urlencoded`
 * body writes it (space as `+`, `*` kept, `~` encoded), with upper- or lower-case hex;
 * JSON-escaped, also with `\/` and with non-ASCII as `\uXXXX` (Python's `ensure_ascii`, PHP's
 * default); and HTML-escaped. It also blanks the value of any URL or form parameter whose name
 * says it is a credential (`code=`, `access_token=`, `client_secret=`, ...), so a redirect's code
 * is scrubbed though nobody listed it.
 *
 * `Endpoint` builds one per request (`fromRequest`: the secrets the definition lists plus those
 * the request itself carries in sensitive headers, query parameters and body fields) and passes
 * every error response and every typed error through it; providers never call it themselves.
 *
 * @since 0.1.0
 */
import * as Headers from "@effect/platform/Headers"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * What a scrubbed secret is replaced by.
 *
 * @since 0.1.0
 * @category constants
 */
export const placeholder = "<redacted>"

/**
 * Names of headers, parameters and fields that carry credentials: a code, token, key, secret,
 * cookie, session, password, signature or the authorization itself.
 *
 * @since 0.1.0
 * @category constants
 */
export const sensitiveName: RegExp = /token|secret|key|passw|session|code|cookie|auth|credential|signature/i

/**
 * The header names no span may record a value of: the platform's defaults, the headers that carry
 * a code or a token in a provider's answer (`location`, `set-cookie`), Cal.com's client-secret
 * header, and any name matching `sensitiveName`. `Endpoint` sets them on
 * `Headers.currentRedactedNames` around every request; `withRedactedHeaders` does so for any
 * other effect (an authenticated client's calls).
 *
 * @since 0.1.0
 * @category constants
 */
export const redactedHeaderNames: ReadonlyArray<string | RegExp> = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "location",
  "x-api-key",
  "x-cal-secret-key",
  sensitiveName
]

/**
 * Runs `effect` with `redactedHeaderNames` added to `Headers.currentRedactedNames`, so the
 * platform's `http.client` spans record those headers as `<redacted>`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRedactedHeaders = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locallyWith(effect, Headers.currentRedactedNames, withRedactedNames)

// The names in effect rarely change: the extended list is built once for each list seen last.
let namesIn: ReadonlyArray<string | RegExp> | undefined
let namesOut: ReadonlyArray<string | RegExp> = redactedHeaderNames
const withRedactedNames = (names: ReadonlyArray<string | RegExp>): ReadonlyArray<string | RegExp> => {
  if (names !== namesIn) {
    namesIn = names
    namesOut = Arr.appendAll(names, redactedHeaderNames)
  }
  return namesOut
}

/**
 * Every spelling of `secret` this module scrubs, longest first.
 *
 * @since 0.1.0
 * @category spellings
 */
export const spellings = (secret: string): ReadonlyArray<string> => {
  if (secret.length === 0) return []
  const json = JSON.stringify(secret).slice(1, -1)
  const jsonSlash = json.replace(/\//g, "\\/")
  const forms = new Set<string>([
    secret,
    encodeURIComponent(secret),
    formEncode(secret),
    encodeURI(secret),
    json,
    jsonSlash,
    asciiEscape(json),
    asciiEscape(jsonSlash),
    htmlEscape(secret),
    htmlEscape(secret).replace(/&#39;/g, "&#x27;")
  ])
  return Array.from(forms).sort((a, b) => b.length - a.length)
}

/**
 * A scrubber for a set of secrets.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scrubber {
  /** `text` with every spelling of every secret, and every credential parameter, blanked. */
  readonly text: (text: string) => string
  /**
   * A copy of `value` with `text` applied to every string it holds: object keys and values,
   * array items, the fields of class instances (an error's, or a nested `Schema.Class`'s), and
   * an error's `message` and `stack`, which V8 captures with the message in it.
   */
  readonly value: <A>(value: A) => A
  /**
   * A response body as text: a JSON body is parsed, scrubbed string by string (so an escape such
   * as `\u0070assword` cannot hide a secret) and written back; any other body is scrubbed as
   * text.
   */
  readonly body: (body: string) => string
}

/**
 * A scrubber for the given secrets (empty ones are ignored).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (secrets: Iterable<Redacted.Redacted<string> | string>): Scrubber => {
  const all = new Set<string>()
  for (const secret of secrets) {
    for (const spelling of spellings(Predicate.isString(secret) ? secret : Redacted.value(secret))) all.add(spelling)
  }
  const pattern = all.size === 0 ? undefined : new RegExp(
    Array.from(all).sort((a, b) => b.length - a.length).map(toPattern).join("|"),
    "g"
  )
  const text = (input: string): string => {
    const scrubbed = pattern === undefined ? input : input.replace(pattern, placeholder)
    return scrubbed.replace(sensitiveParameter, (_, prefix: string, name: string) => `${prefix}${name}=${placeholder}`)
  }
  const value = <A>(input: A): A => scrubValue(input, text)
  const body = (input: string): string => {
    const parsed = parseJson(input)
    return Either.isRight(parsed) ? JSON.stringify(scrubValue(parsed.right, text)) : text(input)
  }
  return { text, value, body }
}

/**
 * A scrubber for one request: the `secrets` given, plus every secret the request carries
 * itself: the values of headers whose name is sensitive (`authorization` whole and its
 * credential, a Basic credential's base64 and its decoded `user:password` and password,
 * `cookie` whole and each cookie's value), and the values of query parameters and of form or
 * JSON body fields whose name is sensitive.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRequest = (
  request: HttpClientRequest.HttpClientRequest,
  secrets: ReadonlyArray<Redacted.Redacted<string>> = []
): Scrubber => {
  const found: Array<Redacted.Redacted<string> | string> = [...secrets]
  // A part of a header (a cookie's value, a credential) shorter than this is no secret worth
  // blanking everywhere it happens to occur, such as `1` in `flag=1`.
  const part = (value: string) => {
    if (value.length >= minimumPartLength) found.push(value)
  }
  for (const [name, value] of Object.entries(request.headers)) {
    if (!isRedactedHeader(name)) continue
    found.push(value)
    const credential = /^\s*(\S+)\s+(\S+)\s*$/.exec(value)
    if (credential !== null) {
      part(credential[2])
      if (credential[1].toLowerCase() === "basic") {
        const decoded = Either.getOrUndefined(Encoding.decodeBase64String(credential[2]))
        if (decoded !== undefined) {
          part(decoded)
          const colon = decoded.indexOf(":")
          if (colon >= 0) part(decoded.slice(colon + 1))
        }
      }
    }
    if (name.toLowerCase() === "cookie") {
      for (const pair of value.split(";")) part(pair.slice(pair.indexOf("=") + 1).trim())
    }
  }
  for (const [name, value] of request.urlParams) {
    if (sensitiveName.test(name)) found.push(value)
  }
  found.push(...bodySecrets(request))
  return make(found)
}

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

const minimumPartLength = 4

const isRedactedHeader = (name: string): boolean =>
  redactedHeaderNames.some((redacted) =>
    Predicate.isString(redacted) ? redacted === name.toLowerCase() : redacted.test(name)
  )

/**
 * A parameter whose name says it is a credential, in a URL, a form or a `Location`:
 * `code=...`, `access_token=...`, `client_secret=...`, `api_key=...`, `password=...`.
 */
const sensitiveParameter =
  /(^|[?&#;\s"'])((?:[\w.-]*[_-])?(?:code|token|secret|key|password|passwd|session|signature))=((?:<redacted>|[^&#\s"'<>])+)/gi

/** What `URLSearchParams` (an HTML form) writes for a value. */
const formEncode = (value: string): string => new URLSearchParams([["", value]]).toString().slice(1)

/** Non-ASCII UTF-16 code units as `\uXXXX` (surrogate pairs stay two escapes, as Python writes). */
const asciiEscape = (json: string): string =>
  json.replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)

const htmlEscape = (value: string): string =>
  value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(
    /'/g,
    "&#39;"
  )

/** A spelling as a regular expression in which every percent and `\u` escape matches either hex case. */
const toPattern = (spelling: string): string =>
  spelling.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")
    .replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => `%${caseless(hex)}`)
    .replace(/\\\\u([0-9A-Fa-f]{4})/g, (_, hex: string) => `\\\\u${caseless(hex)}`)

const caseless = (hex: string): string =>
  Array.from(hex, (digit) => /[a-f]/i.test(digit) ? `[${digit.toLowerCase()}${digit.toUpperCase()}]` : digit).join("")

const parseJson = (text: string): Either.Either<unknown, void> => {
  try {
    return Either.right(JSON.parse(text))
  } catch {
    return Either.left(undefined)
  }
}

/** The values of sensitive fields of a form or JSON body. */
const bodySecrets = (request: HttpClientRequest.HttpClientRequest): ReadonlyArray<string> => {
  if (request.body._tag !== "Uint8Array") return []
  const text = new TextDecoder().decode(request.body.body)
  const contentType = request.body.contentType.toLowerCase()
  if (contentType.startsWith("application/x-www-form-urlencoded")) {
    return Array.from(new URLSearchParams(text)).filter(([name]) => sensitiveName.test(name)).map(([, value]) => value)
  }
  if (!contentType.includes("json")) return []
  const parsed = parseJson(text)
  const found: Array<string> = []
  const walk = (value: unknown, depth: number): void => {
    if (depth > 8 || !Predicate.isObject(value)) return
    for (const [name, item] of Object.entries(value)) {
      if (Predicate.isString(item) && sensitiveName.test(name)) found.push(item)
      else walk(item, depth + 1)
    }
  }
  if (Either.isRight(parsed)) walk(parsed.right, 0)
  return found
}

/**
 * Where a `Data.Error` (and so a `Schema.TaggedError`) keeps the arguments it was built from:
 * behind a non-writable property that its `toJSON` spreads, so scrubbing the fields in place
 * would leave the original strings in `JSON.stringify(error)`.
 */
const dataErrorArgs = Symbol.for("effect/Data/Error/plainArgs")

/**
 * Deeply scrubbed copy. Plain objects and arrays are copied; an instance of a `Schema` class
 * (`Schema.TaggedError`, `Schema.Class`) or a `Data` error is rebuilt by its own constructor from
 * its scrubbed fields, so it keeps its class and its message getter, and no copy of the original
 * arguments survives; its `stack`, which V8 captured with the original message, is scrubbed too.
 * `Redacted` values and functions are kept as they are.
 */
const scrubValue = <A>(input: A, text: (text: string) => string): A => {
  const seen = new Map<object, unknown>()
  const go = (value: unknown, depth: number): unknown => {
    if (Predicate.isString(value)) return text(value)
    if (!Predicate.isObject(value) || Predicate.isFunction(value) || Redacted.isRedacted(value)) return value
    if (depth > 32) return "..."
    if (seen.has(value)) return seen.get(value)
    if (Array.isArray(value)) {
      const copy: Array<unknown> = []
      seen.set(value, copy)
      for (const item of value) copy.push(go(item, depth + 1))
      return copy
    }
    const prototype: unknown = Object.getPrototypeOf(value)
    if (prototype === Object.prototype || prototype === null) {
      const copy: Record<string, unknown> = {}
      seen.set(value, copy)
      for (const [key, item] of Object.entries(value)) copy[text(key)] = go(item, depth + 1)
      return copy
    }
    const constructor = value.constructor
    const args: unknown = Reflect.get(value, dataErrorArgs)
    const schemaFields = Schema.isSchema(constructor) && Predicate.hasProperty(constructor, "fields") &&
        Predicate.isObject(constructor.fields)
      ? constructor.fields
      : undefined
    if (Predicate.isRecord(args) || schemaFields !== undefined) {
      const fields: Record<string, unknown> = {}
      for (const key of Object.keys(Predicate.isRecord(args) ? args : schemaFields ?? {})) {
        if (Predicate.hasProperty(value, key)) fields[key] = go(value[key], depth + 1)
      }
      // A `Schema` class validated these fields once; scrubbing keeps their types (strings stay
      // strings) but may break a pattern, so validation is skipped. A `Data` error ignores the flag.
      const copy: unknown = Reflect.construct(constructor, [fields, true])
      seen.set(value, copy)
      scrubErrorText(value, copy, text)
      return copy
    }
    // Any other instance (a native `Error` as a cause, say) is scrubbed in place: it has no
    // constructor that could rebuild it from its fields.
    seen.set(value, value)
    for (const [key, item] of Object.entries(value)) {
      const scrubbed = go(item, depth + 1)
      if (scrubbed !== item) Reflect.set(value, key, scrubbed)
    }
    scrubErrorText(value, value, text)
    return value
  }
  // The copy is built from `input` by its own constructor (or is `input` itself), key by key,
  // with strings replaced by strings: it has the type of `input`.
  return go(input, 0) as A
}

/** An error's own `message` and `stack` (both captured at construction) onto `target`. */
const scrubErrorText = (source: object, target: unknown, text: (text: string) => string): void => {
  if (!(source instanceof Error) || !Predicate.isObject(target)) return
  for (const key of ["message", "stack"]) {
    const descriptor = Object.getOwnPropertyDescriptor(source, key)
    if (descriptor !== undefined && Predicate.isString(descriptor.value) && descriptor.writable === true) {
      Object.defineProperty(target, key, { ...descriptor, value: text(descriptor.value) })
    }
  }
}
