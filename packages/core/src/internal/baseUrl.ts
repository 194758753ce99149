/**
 * What is wrong with a base URL, shared by `Endpoint.validateBaseUrl` (a value given in code)
 * and `ProviderConfig.baseUrl` (a variable), so both refuse the same URLs with the same words.
 */

/** @internal */
export const baseUrlProblem = (baseUrl: string): string | undefined => {
  let url: URL
  try {
    url = new URL(baseUrl)
  } catch {
    return `${JSON.stringify(baseUrl)} is not an absolute URL (expected https://host[/path])`
  }
  return !/^https?:$/.test(url.protocol)
    ? `the scheme must be http or https, not ${url.protocol.slice(0, -1)}`
    : url.username || url.password
    ? "the URL must not carry a user name or password"
    : url.search || url.hash
    ? "the URL must not have a query or fragment"
    : undefined
}
