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
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { extendWith } from "./internal/names.js"

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
 * The header names no span may record a value of: `location` (a provider's redirect carries a
 * code in it), Cal.com's client-secret header, and any name matching `sensitiveName`, which
 * covers the platform's defaults (`authorization`, `cookie`, `set-cookie`, `x-api-key`) and
 * `proxy-authorization`. `Endpoint` sets them on `Headers.currentRedactedNames` around every
 * request; `withRedactedHeaders` does so for any other effect (an authenticated client's calls).
 *
 * @since 0.1.0
 * @category constants
 */
export const redactedHeaderNames: ReadonlyArray<string | RegExp> = ["location", "x-cal-secret-key", sensitiveName]

/**
 * Runs `effect` with `redactedHeaderNames` added to `Headers.currentRedactedNames`, so the
 * platform's `http.client` spans record those headers as `<redacted>`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRedactedHeaders = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locallyWith(effect, Headers.currentRedactedNames, withRedactedNames)

const withRedactedNames = extendWith(redactedHeaderNames)

/**
 * The usual spellings of `secret`, longest first: raw; as `encodeURIComponent`, an HTML form
 * and `encodeURI` write it; JSON-escaped, also with `\/` and with non-ASCII as `\uXXXX`; and
 * HTML-escaped. `make` scrubs each of them, and more: see `make`.
 *
 * @since 0.1.0
 * @category spellings
 */
export const spellings = (secret: string): ReadonlyArray<string> => {
  if (secret === "") return []
  const json = JSON.stringify(secret).slice(1, -1)
  const html = secret.replace(/[&<>"']/g, (char) => `&${htmlEntities[char]};`)
  return [
    ...new Set([
      secret,
      encodeURIComponent(secret),
      new URLSearchParams([["", secret]]).toString().slice(1),
      encodeURI(secret),
      html,
      html.replace(/&#39;/g, "&#x27;"),
      ...[json, json.replace(/\//g, "\\/")].flatMap((spelling) => [
        spelling,
        spelling.replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)
      ])
    ])
  ].sort((a, b) => b.length - a.length)
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
 * A secret is matched character by character, each character in any of the spellings a server
 * may echo it in, so every one of `spellings` is scrubbed, and so is any mixture: raw;
 * percent-encoded as UTF-8 with upper- or lower-case hex (which covers `encodeURIComponent`,
 * `encodeURI` and an `application/x-www-form-urlencoded` body, with space as `+`); JSON-escaped
 * (`\"`, `\\`, `\/`, `\n`, and `\uXXXX` for any character, in either case); and HTML-escaped
 * (`&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;`, `&#x27;`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (secrets: Iterable<Redacted.Redacted<string> | string>): Scrubber => {
  const all = new Set<string>()
  for (const secret of secrets) all.add(typeof secret === "string" ? secret : Redacted.value(secret))
  all.delete("")
  // Longest first: a secret that contains another is blanked whole. No secret: a pattern that
  // never matches.
  const pattern = new RegExp(
    [...all].sort((a, b) => b.length - a.length).map((secret) =>
      Array.from(secret, (char) =>
        `(?:${
          [
            char,
            JSON.stringify(char).slice(1, -1),
            ...(extraSpellings[char] ?? [])
          ].map((spelling) => spelling.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|")
        }|${Array.from(new TextEncoder().encode(char), (byte) => `%${hex(byte, 2)}`).join("")}|${
          char.replace(/[^]/g, (unit) => `\\\\u${hex(unit.charCodeAt(0), 4)}`)
        })`).join("")
    ).join("|") || "(?!)",
    "g"
  )
  const text = (input: string): string =>
    input.replace(pattern, placeholder).replace(
      sensitiveParameter,
      `$1$2=${placeholder}`
    )
  const value = <A>(input: A): A => scrubValue(input, text)
  return {
    text,
    value,
    body: (input) => {
      try {
        return JSON.stringify(value(JSON.parse(input)))
      } catch {
        return text(input)
      }
    }
  }
}

/**
 * A scrubber for one request: the `secrets` given, plus every secret the request carries
 * itself: the values of headers, query parameters and form or JSON body fields whose name is
 * sensitive, and their parts: a credential after its scheme (`Bearer <token>`), a Basic
 * credential's decoded `user:password` and password, and each cookie's value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRequest = (
  request: HttpClientRequest.HttpClientRequest,
  secrets: ReadonlyArray<Redacted.Redacted<string>> = []
): Scrubber => {
  const found: Array<Redacted.Redacted<string> | string> = [...secrets]
  // A part of a value (a cookie's value, a credential) shorter than this is no secret worth
  // blanking everywhere it happens to occur, such as `1` in `flag=1`.
  const part = (value = "") => value.length >= 4 && found.push(value)
  // The fields of `entries` whose name is sensitive, to a depth of 8 for a JSON body.
  const fields = (entries: Iterable<readonly [string, unknown]>, depth: number): void => {
    for (const [name, value] of entries) {
      if (typeof value === "string") {
        if (sensitiveName.test(name)) {
          found.push(value)
          const [, scheme = "", credential] = /^\s*(\S+)\s+(\S+)\s*$/.exec(value) ?? []
          part(credential)
          const decoded = /^basic$/i.test(scheme) ? Encoding.decodeBase64String(credential!) : undefined
          if (decoded?._tag === "Right") {
            part(decoded.right)
            part(decoded.right.slice(decoded.right.indexOf(":") + 1))
          }
          for (const pair of value.split(";")) part(pair.slice(pair.indexOf("=") + 1).trim())
        }
      } else if (depth < 8 && typeof value === "object" && value !== null) {
        fields(Object.entries(value), depth + 1)
      }
    }
  }
  fields(Object.entries(request.headers), 0)
  fields(request.urlParams, 0)
  if (request.body._tag === "Uint8Array") {
    // A JSON body, or else a form (whatever its content type says: an extra secret is harmless).
    const text = new TextDecoder().decode(request.body.body)
    try {
      fields(Object.entries(JSON.parse(text) ?? {}), 0)
    } catch {
      fields(new URLSearchParams(text), 0)
    }
  }
  return make(found)
}

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

const htmlEntities: Record<string, string> = { "&": "amp", "<": "lt", ">": "gt", "\"": "quot", "'": "#39" }

/** The spellings of a character besides raw, JSON-escaped, percent-encoded and `\\uXXXX`. */
const extraSpellings: Record<string, ReadonlyArray<string>> = {
  " ": ["+"],
  "/": ["\\/"],
  "&": ["&amp;"],
  "<": ["&lt;"],
  ">": ["&gt;"],
  "\"": ["&quot;"],
  "'": ["&#39;", "&#x27;"]
}

/** `code` as `width` hex digits, each letter matching either case. */
const hex = (code: number, width: number): string =>
  code.toString(16).padStart(width, "0").replace(/[a-f]/g, (digit) => `[${digit}${digit.toUpperCase()}]`)

/**
 * A parameter whose name says it is a credential, in a URL, a form or a `Location`:
 * `code=...`, `access_token=...`, `client_secret=...`, `api_key=...`, `password=...`.
 */
const sensitiveParameter =
  /(^|[?&#;\s"'])((?:[\w.-]*[_-])?(?:code|token|secret|key|password|passwd|session|signature))=((?:<redacted>|[^&#\s"'<>])+)/gi

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
 * arguments survives. Any other instance (a native `Error` as a cause, say) is scrubbed in place:
 * it has no constructor that could rebuild it from its fields. An error's own `message` and
 * `stack`, which V8 captured with the original message, are scrubbed too. `Redacted` values and
 * functions are kept as they are.
 */
const scrubValue = <A>(input: A, text: (text: string) => string): A => {
  const seen = new Map<object, unknown>()
  const go = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return text(value)
    if (typeof value !== "object" || value === null || Redacted.isRedacted(value)) return value
    if (depth > 32) return "..."
    if (seen.has(value)) return seen.get(value)
    const prototype: unknown = Object.getPrototypeOf(value)
    const isArray = Array.isArray(value)
    const plain = isArray || prototype === Object.prototype || prototype === null
    // The fields to rebuild the instance from: a `Data` error's arguments (an object), or a
    // `Schema` class's fields (an object too).
    const fields: object | undefined = plain ? undefined : Reflect.get(value, dataErrorArgs) ??
      (Schema.isSchema(value.constructor) ? Reflect.get(value.constructor, "fields") : undefined)
    let target: object = plain ? (isArray ? [] : {}) : fields ? {} : value
    if (!fields) seen.set(value, target)
    for (const key of Object.keys(fields ?? value)) {
      if (!(key in value)) continue
      const item: unknown = Reflect.get(value, key)
      const scrubbed = go(item, depth + 1)
      if (target !== value || scrubbed !== item) Reflect.set(target, plain && !isArray ? text(key) : key, scrubbed)
    }
    if (fields) {
      // A `Schema` class validated these fields once; scrubbing keeps their types (strings stay
      // strings) but may break a pattern, so validation is skipped. A `Data` error ignores the flag.
      target = Reflect.construct(value.constructor, [target, true])
      seen.set(value, target)
    }
    if (value instanceof Error) {
      for (const key of ["message", "stack"]) {
        const descriptor = Object.getOwnPropertyDescriptor(value, key)
        if (descriptor?.writable && typeof descriptor.value === "string") {
          Object.defineProperty(target, key, { ...descriptor, value: text(descriptor.value) })
        }
      }
    }
    return target
  }
  // The copy is built from `input` by its own constructor (or is `input` itself), key by key,
  // with strings replaced by strings: it has the type of `input`.
  return go(input, 0) as A
}
