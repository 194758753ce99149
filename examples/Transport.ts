/**
 * The `HttpClient` the examples send with, chosen for the runtime they run on: on Node.js the
 * platform-node undici client; on Bun and Deno the platform's `FetchHttpClient` over the
 * runtime's own `fetch` (platform-node's undici client does not work under Bun). Your application
 * picks one the same way, or simply uses `FetchHttpClient.layer`, which works everywhere.
 *
 * @since 0.1.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Layer from "effect/Layer"

/**
 * The runtime the example runs on.
 *
 * @since 0.1.0
 * @category constants
 */
export const runtime: "node" | "bun" | "deno" = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"

/**
 * undici on Node.js, `fetch` on Bun and Deno.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<HttpClient.HttpClient> = runtime === "node"
  ? NodeHttpClient.layerUndici
  : FetchHttpClient.layer
