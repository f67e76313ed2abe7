// `next build` with output: "standalone" leaves static assets out of .next/standalone; copy them in
// so `node .next/standalone/server.js` (the e2e test, the container image) serves a complete app.
import { cpSync, existsSync, rmSync } from "node:fs";

const dest = ".next/standalone";
if (!existsSync(dest)) {
  console.error("copy-static: .next/standalone is missing (is output: 'standalone' set?)");
  process.exit(1);
}
rmSync(`${dest}/.next/static`, { recursive: true, force: true });
cpSync(".next/static", `${dest}/.next/static`, { recursive: true });
if (existsSync("public")) {
  cpSync("public", `${dest}/public`, { recursive: true });
}
