/**
 * A fake undici dispatcher and CPU accounting, for figures that count only the client's own
 * JavaScript: the dispatcher answers every request from memory (no socket, no server, no kernel),
 * so what `process.cpuUsage` measures around a run is the client's work, from building the request
 * to decoding the response, including undici's own request API (`Dispatcher.request` over
 * `dispatch`), which a real socket would run too.
 *
 * @since 0.1.0
 */
import * as Undici from "undici"

/**
 * What the fake answers: a token for `POST /token`, a small body for anything else.
 *
 * @since 0.1.0
 */
export const tokenBody = Buffer.from(
  JSON.stringify({ access_token: "fake-access-token", token_type: "Bearer", expires_in: 3600 })
)

const okBody = Buffer.from("ok")

const rawHeaders = (body: Buffer): Array<Buffer> => [
  Buffer.from("content-type"),
  Buffer.from("application/json"),
  Buffer.from("content-length"),
  Buffer.from(String(body.length)),
  Buffer.from("date"),
  Buffer.from(new Date().toUTCString())
]

const tokenHeaders = rawHeaders(tokenBody)
const okHeaders = rawHeaders(okBody)

/**
 * A dispatcher that answers from memory on the next turn of the event loop (as a socket would),
 * through the legacy handler protocol that undici's `request` API speaks.
 *
 * @since 0.1.0
 */
export class FakeDispatcher extends Undici.Dispatcher {
  requests = 0

  override dispatch(options: Undici.Dispatcher.DispatchOptions, handler: Undici.Dispatcher.DispatchHandler): boolean {
    this.requests++
    const token = options.path.endsWith("/token")
    const body = token ? tokenBody : okBody
    const headers = token ? tokenHeaders : okHeaders
    let aborted = false
    handler.onConnect?.(() => {
      aborted = true
    })
    setImmediate(() => {
      if (aborted) return
      handler.onHeaders?.(200, headers, () => {}, "OK")
      handler.onData?.(body)
      handler.onComplete?.([])
    })
    return true
  }

  override close(): Promise<void> {
    return Promise.resolve()
  }

  override destroy(): Promise<void> {
    return Promise.resolve()
  }
}

/**
 * Microseconds of CPU (user + system) per operation spent by `run`, which performs `count`
 * operations.
 *
 * @since 0.1.0
 */
export const cpuPer = async (count: number, run: () => Promise<unknown>): Promise<number> => {
  const before = process.cpuUsage()
  await run()
  const spent = process.cpuUsage(before)
  return (spent.user + spent.system) / count
}
