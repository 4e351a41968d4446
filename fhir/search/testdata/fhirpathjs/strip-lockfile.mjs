// Removes the "funding" fields npm copies into package-lock.json: they name
// web hosts and npm ci needs none of them. The .npmrc beside this file
// already keeps registry URLs ("resolved") out of the lock file. Run after
// changing the dependencies:
//
//	npm install && node strip-lockfile.mjs
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
for (const pkg of Object.values(lock.packages ?? {})) delete pkg.funding;
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n");
