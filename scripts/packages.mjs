// The library packages: every `packages/*/package.json` that is not private, in dependency order
// (a package comes after the workspace packages it depends on). The build, pack, docs and consumer
// scripts iterate this list, so a new package under `packages/` gets the same treatment unedited.
import * as fs from "node:fs"
import * as path from "node:path"

/** The repository root. */
export const root = path.join(import.meta.dirname, "..")

/**
 * @returns {Array<{ dir: string, name: string, folder: string, manifest: Record<string, any> }>}
 */
export const libraryPackages = () => {
  const packagesDir = path.join(root, "packages")
  const found = fs.readdirSync(packagesDir)
    .filter((folder) => fs.existsSync(path.join(packagesDir, folder, "package.json")))
    .sort()
    .map((folder) => {
      const dir = path.join(packagesDir, folder)
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
      return { dir, folder, name: manifest.name, manifest }
    })
    .filter((pkg) => pkg.manifest.private !== true)
  const byName = new Map(found.map((pkg) => [pkg.name, pkg]))
  const ordered = []
  const visiting = new Set()
  const visit = (pkg) => {
    if (ordered.includes(pkg) || visiting.has(pkg.name)) return
    visiting.add(pkg.name)
    for (const dep of Object.keys({ ...pkg.manifest.dependencies, ...pkg.manifest.peerDependencies })) {
      const sibling = byName.get(dep)
      if (sibling !== undefined) visit(sibling)
    }
    ordered.push(pkg)
  }
  found.forEach(visit)
  return ordered
}

/** The names of the workspace's library packages. */
export const libraryNames = () => new Set(libraryPackages().map((pkg) => pkg.name))
