// Keeps package-lock.json installable with `npm ci` on every platform.
//
// Packages such as esbuild and rollup ship one optional package per platform. When the registry an
// install resolves against serves only the current platform's binaries, npm writes a lockfile that
// names the others in `optionalDependencies` but has no entry for them, and `npm ci` then rejects
// the lockfile as out of sync. This script adds a minimal entry (version, optional) for each such
// package; npm skips the ones that do not fit the platform it installs on.
//
//   node scripts/lockfile.mjs           add the missing entries
//   node scripts/lockfile.mjs --check   fail if any is missing (run by `npm run check`)
import * as fs from "node:fs"
import * as path from "node:path"

const file = path.join(import.meta.dirname, "..", "package-lock.json")
const lock = JSON.parse(fs.readFileSync(file, "utf8"))
const packages = lock.packages
const missing = []

for (const [location, entry] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${location === "" ? "" : `${location}/`}node_modules/${name}`
    const hoisted = `node_modules/${name}`
    if (packages[nested] !== undefined || packages[hoisted] !== undefined) continue
    missing.push(name)
    packages[hoisted] = {
      version: range.replace(/^[\^~=]/, ""),
      ...(entry.dev ? { dev: true } : {}),
      ...(entry.devOptional ? { devOptional: true } : {}),
      optional: true
    }
  }
}

if (process.argv.includes("--check")) {
  if (missing.length > 0) {
    console.error(`package-lock.json lacks ${missing.length} optional platform packages: run npm run lockfile`)
    process.exit(1)
  }
} else if (missing.length > 0) {
  fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`)
  console.log(`package-lock.json: added ${missing.length} optional platform packages`)
}
