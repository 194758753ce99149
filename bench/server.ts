/**
 * The token server every client under test talks to: plain `node:http`, so its cost is small and the
 * same for every library, in a child process of its own, so it never shares an event loop (or a
 * garbage collector) with the client being measured. It listens on two ports, an authorization
 * server (`authUrl`) and a resource server (`apiUrl`), as OAuth deployments do: a client's token
 * request then has a connection pool of its own and never queues behind its API requests.
 *
 * - `POST /token`: a form with `grant_type=client_credentials` or `password`; answers
 *   `{ access_token, token_type: "Bearer", expires_in }`. Each answer can be held back a few
 *   milliseconds (`holdMs`), like a real endpoint, so overlapping requests are visible.
 * - `GET /protected`: 200 and a small JSON body with `Authorization: Bearer <a live token>`, else 401;
 *   optionally after `apiDelayMs`, like an API doing some work.
 *
 * The parent drives it over the IPC channel: `config` (lifetime, hold), `reset` (counters),
 * `revokeAll` (forget every token: the next protected request with one gets a 401) and `stats`
 * (token requests, the most that were ever in flight at once, protected requests answered).
 *
 * @since 0.1.0
 */
import * as ChildProcess from "node:child_process"
import * as Http from "node:http"
import * as Path from "node:path"

/**
 * What the server counted since the last `reset`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly tokenRequests: number
  readonly maxInFlight: number
  readonly protectedOk: number
  readonly protectedRejected: number
  /** When the first and the last token request arrived (epoch ms; 0 when none did). */
  readonly firstTokenAt: number
  readonly lastTokenAt: number
}

/**
 * How the server answers token requests.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /** `expires_in` of the tokens issued, in seconds. */
  readonly lifetime?: number
  /** How long each token request is held before it is answered, in milliseconds. */
  readonly holdMs?: number
  /** How long each protected request is held before it is answered, in milliseconds. */
  readonly apiDelayMs?: number
}

type Command =
  | { readonly id: number; readonly op: "config"; readonly config: Config }
  | { readonly id: number; readonly op: "reset" }
  | { readonly id: number; readonly op: "revokeAll" }
  | { readonly id: number; readonly op: "stats" }

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never

interface Reply {
  readonly id: number
  readonly result: unknown
}

/**
 * A running server, seen from the parent.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenServer {
  /** The authorization server: `POST /token`. */
  readonly authUrl: string
  /** The resource server: `GET /protected`. */
  readonly apiUrl: string
  readonly config: (config: Config) => Promise<void>
  /** Zeroes the counters. */
  readonly reset: () => Promise<void>
  /** Forgets every token issued so far. */
  readonly revokeAll: () => Promise<void>
  readonly stats: () => Promise<Stats>
  readonly stop: () => Promise<void>
}

const isReply = (value: object): value is Reply => "id" in value && typeof value.id === "number" && "result" in value

const isStats = (value: unknown): value is Stats =>
  typeof value === "object" && value !== null && "tokenRequests" in value && "maxInFlight" in value

/**
 * Starts the server in a child process and resolves once it listens.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (config: Config = {}): Promise<TokenServer> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.fork(Path.join(import.meta.dirname, "server.ts"), [], {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, BENCH_TOKEN_SERVER: JSON.stringify(config) },
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let nextId = 1
    const pending = new Map<number, (result: unknown) => void>()
    const call = (command: WithoutId<Command>): Promise<unknown> =>
      new Promise((done) => {
        const id = nextId++
        pending.set(id, done)
        child.send({ ...command, id })
      })
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`the token server exited with ${code}`)))
    child.on("message", (message: unknown) => {
      if (typeof message !== "object" || message === null) return
      if ("listening" in message && Array.isArray(message.listening)) {
        const [authPort, apiPort] = message.listening
        resolve({
          authUrl: `http://127.0.0.1:${authPort}`,
          apiUrl: `http://127.0.0.1:${apiPort}`,
          config: (next) => call({ op: "config", config: next }).then(() => undefined),
          reset: () => call({ op: "reset" }).then(() => undefined),
          revokeAll: () => call({ op: "revokeAll" }).then(() => undefined),
          stats: () =>
            call({ op: "stats" }).then((result) => {
              if (!isStats(result)) throw new Error("the token server sent no stats")
              return result
            }),
          stop: () =>
            new Promise((stopped) => {
              child.removeAllListeners("exit")
              child.once("exit", () => stopped())
              child.kill()
            })
        })
        return
      }
      if (!isReply(message)) return
      const done = pending.get(message.id)
      if (done !== undefined) {
        pending.delete(message.id)
        done(message.result)
      }
    })
  })

// -----------------------------------------------------------------------------------------------
// the child process
// -----------------------------------------------------------------------------------------------

const serve = (initial: Config): void => {
  let lifetime = initial.lifetime ?? 3600
  let holdMs = initial.holdMs ?? 0
  let apiDelayMs = initial.apiDelayMs ?? 0
  const tokens = new Map<string, number>()
  let issued = 0
  let tokenRequests = 0
  let inFlight = 0
  let maxInFlight = 0
  let protectedOk = 0
  let protectedRejected = 0
  let firstTokenAt = 0
  let lastTokenAt = 0

  const json = (response: Http.ServerResponse, status: number, body: string, extra: Http.OutgoingHttpHeaders = {}) => {
    response.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...extra
    })
    response.end(body)
  }

  const token = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    tokenRequests++
    lastTokenAt = Date.now()
    if (firstTokenAt === 0) firstTokenAt = lastTokenAt
    inFlight++
    if (inFlight > maxInFlight) maxInFlight = inFlight
    let body = ""
    request.setEncoding("utf8")
    request.on("data", (chunk: string) => body += chunk)
    request.on("end", () => {
      const answer = () => {
        inFlight--
        const form = new URLSearchParams(body)
        const grant = form.get("grant_type")
        if (grant !== "client_credentials" && grant !== "password") {
          return json(response, 400, JSON.stringify({ error: "unsupported_grant_type" }))
        }
        const accessToken = `at-${++issued}-${Math.random().toString(36).slice(2, 10)}`
        tokens.set(accessToken, Date.now() + lifetime * 1000)
        json(
          response,
          200,
          JSON.stringify({ access_token: accessToken, token_type: "Bearer", expires_in: lifetime }),
          { "cache-control": "no-store" }
        )
      }
      if (holdMs > 0) setTimeout(answer, holdMs)
      else answer()
    })
  }

  const protectedRoute = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    const header = request.headers.authorization
    const expiresAt = header !== undefined && header.startsWith("Bearer ") ? tokens.get(header.slice(7)) : undefined
    request.resume()
    const answer = () => {
      if (expiresAt !== undefined && expiresAt > Date.now()) {
        protectedOk++
        return json(response, 200, "{\"ok\":true,\"resource\":\"bench\"}")
      }
      protectedRejected++
      json(response, 401, "{\"error\":\"invalid_token\"}", { "www-authenticate": "Bearer error=\"invalid_token\"" })
    }
    if (apiDelayMs > 0) setTimeout(answer, apiDelayMs)
    else answer()
  }

  const notFound = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    request.resume()
    json(response, 404, "{\"error\":\"not_found\"}")
  }
  const auth = Http.createServer(
    { keepAliveTimeout: 60_000 },
    (request, response) =>
      request.method === "POST" && request.url === "/token" ? token(request, response) : notFound(request, response)
  )
  const api = Http.createServer(
    { keepAliveTimeout: 60_000 },
    (request, response) =>
      request.method === "GET" && request.url === "/protected"
        ? protectedRoute(request, response)
        : notFound(request, response)
  )

  process.on("message", (command: Command) => {
    const reply = (result: unknown) => process.send?.({ id: command.id, result })
    switch (command.op) {
      case "config":
        lifetime = command.config.lifetime ?? lifetime
        holdMs = command.config.holdMs ?? holdMs
        apiDelayMs = command.config.apiDelayMs ?? apiDelayMs
        return reply(null)
      case "reset":
        tokenRequests = 0
        maxInFlight = inFlight
        protectedOk = 0
        protectedRejected = 0
        firstTokenAt = 0
        lastTokenAt = 0
        return reply(null)
      case "revokeAll":
        tokens.clear()
        return reply(null)
      case "stats":
        return reply(
          { tokenRequests, maxInFlight, protectedOk, protectedRejected, firstTokenAt, lastTokenAt } satisfies Stats
        )
    }
  })
  process.on("disconnect", () => process.exit(0))
  const listen = (server: Http.Server) =>
    new Promise<number>((resolve) =>
      server.listen({ port: 0, host: "127.0.0.1", backlog: 65_535 }, () => {
        const address = server.address()
        resolve(typeof address === "object" && address !== null ? address.port : 0)
      })
    )
  void Promise.all([listen(auth), listen(api)]).then((ports) => process.send?.({ listening: ports }))
}

const configured = process.env.BENCH_TOKEN_SERVER
if (configured !== undefined && process.send !== undefined) serve(JSON.parse(configured) as Config)
