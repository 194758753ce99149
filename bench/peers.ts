/**
 * The peers, set up the way their READMEs show, against the same token server:
 *
 * - raw `undici.request` with a fixed `Authorization` header: no token management at all, the floor;
 * - `@badgateway/oauth2-client`: an `OAuth2Client` for client credentials and its `OAuth2Fetch`
 *   wrapper (Node's global `fetch`, which runs on the global undici dispatcher);
 * - `axios` with `axios-auth-refresh`: a request interceptor adds the token a variable holds, the
 *   refresh interceptor fetches a new one on a 401 and replays the request.
 *
 * @since 0.1.0
 */
import { OAuth2Client, OAuth2Fetch, type OAuth2Token } from "@badgateway/oauth2-client"
import axios, { type AxiosInstance } from "axios"
import { createAuthRefresh } from "axios-auth-refresh"
import * as Http from "node:http"
import * as Undici from "undici"
import { clientId, clientSecret } from "./ours.js"

/**
 * One request through undici with a header fixed in advance. Resolves to whether it got a 200.
 *
 * @since 0.1.0
 */
export const undiciRequest = (dispatcher: Undici.Dispatcher, url: string, authorization: string) => async () => {
  const response = await Undici.request(url, { dispatcher, headers: { authorization } })
  await response.body.text()
  return response.statusCode === 200
}

/**
 * A client-credentials token from the server, fetched with undici (to prime the raw floor).
 *
 * @since 0.1.0
 */
export const fetchToken = async (dispatcher: Undici.Dispatcher, authUrl: string): Promise<string> => {
  const response = await Undici.request(`${authUrl}/token`, {
    dispatcher,
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret })
      .toString()
  })
  const body = await response.body.json() as { readonly access_token: string }
  return body.access_token
}

/**
 * `@badgateway/oauth2-client`: the client and its fetch wrapper. `stored` is the token it starts
 * with (through its `getStoredToken` hook), as after a restart.
 *
 * @since 0.1.0
 */
export const badgateway = (authUrl: string, stored?: OAuth2Token) => {
  const client = new OAuth2Client({ server: authUrl, tokenEndpoint: "/token", clientId, clientSecret })
  const fetcher = new OAuth2Fetch({
    client,
    getNewToken: () => client.clientCredentials(),
    ...(stored === undefined ? {} : { getStoredToken: () => stored })
  })
  return { client, fetcher }
}

/**
 * One request through `OAuth2Fetch.fetch`.
 *
 * @since 0.1.0
 */
export const badgatewayRequest = (fetcher: OAuth2Fetch, url: string) => async () => {
  const response = await fetcher.fetch(url)
  await response.text()
  return response.status === 200
}

// axios-auth-refresh's declarations import axios's CommonJS declarations, and this ES module gets
// the ESM ones: one runtime object under two declared types that TypeScript deems unrelated.
type RefreshTarget = Parameters<typeof createAuthRefresh>[0]
const asRefreshTarget = (instance: AxiosInstance): RefreshTarget => instance as unknown as RefreshTarget

/**
 * `axios` with `axios-auth-refresh`: the token lives in a variable the request interceptor reads;
 * on a 401 the refresh interceptor fetches a new one (with a second axios instance, as its README
 * shows) and replays the request with it.
 *
 * @since 0.1.0
 */
export const axiosWithRefresh = (apiUrl: string, authUrl: string, maxSockets: number) => {
  let token: string | undefined = undefined
  const agent = new Http.Agent({ keepAlive: true, maxSockets })
  const instance: AxiosInstance = axios.create({ baseURL: apiUrl, httpAgent: agent, responseType: "text" })
  const tokenClient = axios.create({ baseURL: authUrl, httpAgent: agent })
  const refresh = async () => {
    const response = await tokenClient.post<{ readonly access_token: string }>(
      "/token",
      new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret })
    )
    token = response.data.access_token
  }
  instance.interceptors.request.use((config) => {
    if (token !== undefined) config.headers.Authorization = `Bearer ${token}`
    return config
  })
  createAuthRefresh(
    asRefreshTarget(instance),
    async (failed: { response: { config: { headers: Record<string, string> } } }) => {
      await refresh()
      failed.response.config.headers.Authorization = `Bearer ${token}`
    }
  )
  return {
    instance,
    refresh,
    close: () => agent.destroy()
  }
}

/**
 * One request through the axios instance (a status other than 2xx rejects, which is what
 * `axios-auth-refresh` intercepts).
 *
 * @since 0.1.0
 */
export const axiosRequest = (instance: AxiosInstance, path: string) => async () => {
  const response = await instance.get(path)
  return response.status === 200
}
