// Publishes every library package's built folder (`packages/<name>/dist`, from `npm run build`)
// whose version is not on the registry yet. The workspace package.json files export the sources
// and are never published themselves. Run by `npm run release` after `npm test`, which builds.
//
//   node scripts/publish.mjs [--dry-run]
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { libraryPackages } from "./packages.mjs"

const dryRun = process.argv.includes("--dry-run")
const npm = process.platform === "win32" ? "npm.cmd" : "npm"

for (const pkg of libraryPackages()) {
  const dist = path.join(pkg.dir, "dist")
  const manifest = JSON.parse(fs.readFileSync(path.join(dist, "package.json"), "utf8"))
  if (manifest.version !== pkg.manifest.version) {
    throw new Error(`${pkg.name}: dist is ${manifest.version}, the package ${pkg.manifest.version}: run npm run build`)
  }
  const published = childProcess.spawnSync(npm, ["view", `${pkg.name}@${manifest.version}`, "version"], {
    encoding: "utf8"
  })
  if (published.status === 0 && published.stdout.trim() === manifest.version) {
    console.log(`${pkg.name}@${manifest.version} is already published`)
    continue
  }
  const args = ["publish", dist, "--access", "public", ...(dryRun ? ["--dry-run"] : [])]
  console.log(`npm ${args.join(" ")}`)
  childProcess.execFileSync(npm, args, { stdio: "inherit" })
}
